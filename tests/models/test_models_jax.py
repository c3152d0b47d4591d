"""Every model's code runs under ``KERAS_BACKEND=jax`` and agrees with the TensorFlow backend.

This process (TensorFlow) builds each registered model with tiny hyper-parameters, saves it as ``.keras``
with a batch and its predictions. A subprocess with ``KERAS_BACKEND=jax`` then, for every model:

1. loads the TensorFlow-saved file and predicts the same batch: predictions must match TensorFlow's
   (the cross-backend oracle: same weights, same maths);
2. builds the model afresh from the registry, predicts (shape, finite) and takes one optimiser step
   (finite loss) on two modalities.

Skipped, with the reason shown, when JAX is not importable.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import keras

from test_models_zoo import DIMS, MODELS, OUTPUTS, TINY, build, make_batch, predict

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="jax is not installed (pip install jax) - JAX backend not tested")

JAX_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax", keras.backend.backend()
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.models import registry
    from mmer_tf.train import load_model  # the one loader: registers every serialisable layer first

    folder, names, tiny, dims, outputs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), \\
        json.loads(sys.argv[4]), int(sys.argv[5])
    report = {}
    for name in names:
        data = np.load(f"{folder}/{name}.npz")
        batch = {k: data[k] for k in data.files if k != "expected"}
        loaded = load_model(f"{folder}/{name}.keras")
        reloaded_error = float(np.abs(np.asarray(loaded(batch, training=False)) - data["expected"]).max())

        spec = registry.get(name)
        hp = {k: v for k, v in tiny.get(name, {}).items() if k in spec.hparams}
        config = ExperimentConfig(model_name=name, num_layers=1, num_nodes=8, dropout_rate=0.1, model_hparams=hp)
        keras.utils.set_random_seed(0)
        # bimodal: half of MulT's transformers, so eight XLA compilations stay well inside a minute
        bimodal = {m: dims[m] for m in ("text", "audio")}
        model = registry.build_model(config, bimodal, outputs)
        batch = {k: v for k, v in batch.items() if k.split("_")[0] in bimodal}
        out = np.asarray(model(batch, training=False))
        model.compile(optimizer="adam", loss="mean_squared_error")
        target = np.zeros((out.shape[0], outputs), np.float32)
        losses = [float(np.asarray(model.train_on_batch(batch, target))) for _ in range(1)]
        report[name] = {"reloaded_error": reloaded_error, "shape": list(out.shape),
                        "finite": bool(np.all(np.isfinite(out))), "losses": losses}
    print("REPORT" + json.dumps(report))
    """
)


@pytest.mark.slow
def test_every_model_runs_under_jax_and_matches_tensorflow(tmp_path):
    modalities = tuple(DIMS)
    rng = np.random.default_rng(11)
    batch = make_batch(modalities, [2, 5, 3], 5, rng)
    for name in MODELS:
        model = build(name, modalities)
        model.save(tmp_path / f"{name}.keras")
        np.savez(tmp_path / f"{name}.npz", expected=predict(model, batch), **batch)

    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT, str(tmp_path), json.dumps(MODELS), json.dumps(TINY), json.dumps(DIMS),
         str(OUTPUTS)],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT")]
    assert result.returncode == 0 and lines, result.stderr[-4000:]
    report = json.loads(lines[-1][len("REPORT"):])
    assert sorted(report) == MODELS
    for name, row in report.items():
        assert row["reloaded_error"] < 1e-4, (name, row)
        assert row["shape"] == [3, OUTPUTS] and row["finite"], (name, row)
        assert all(np.isfinite(row["losses"])), (name, row)
