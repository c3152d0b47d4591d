"""Every registered model, trained and saved by one process, reloads and predicts the same in a fresh one.

A ``.keras`` file names its custom layers; a process that has not imported the module defining one cannot
rebuild it (``could not be deserialized properly``). ``python -m mmer_tf predict`` is such a process: it
imports ``mmer_tf.train`` and nothing of the model. So each model (the registry is iterated, a new model is
covered without touching this file) is trained for one epoch on tiny random data here, saved, and then one
fresh interpreter reloads every file through ``mmer_tf.train.load_model`` alone and predicts the same batch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras

from mmer_tf import train
from mmer_tf.config import ExperimentConfig
from mmer_tf.models import registry

ROOT = Path(__file__).resolve().parents[2]
DIMS = {"text": 5, "audio": 4, "vision": 3}
OUTPUTS = 3

# Small widths keep the file fast; a model not listed here trains with its paper defaults (still tiny data).
SMALL = {
    "ef_lstm": {"units": 4},
    "ef_williams": {"lstm_units": 4},
    "lf_dnn": {"hidden": 6, "sub_layers": 1},
    "lf_lstm": {"units": 4},
    "tfn": {"text_hidden": 4, "audio_hidden": 3, "vision_hidden": 3, "sub_layers": 1, "post_fusion": 8},
    "lmf": {"text_hidden": 4, "audio_hidden": 3, "vision_hidden": 3, "sub_layers": 1, "rank": 2, "fusion_dim": 6},
    "mult": {"d": 8, "layers": 1, "mem_layers": 1, "heads": 2},
    "attn_fusion": {"d": 8, "heads": 2, "intra_layers": 1, "fusion_layers": 1},
    "lfan": {"vision_channels": "6,4", "audio_channels": "4,4", "text_channels": "6,4", "modal_dim": 4},
}

RELOAD = r"""
import json, sys
import numpy as np
from mmer_tf import train

folder = sys.argv[1]
names = json.loads(sys.argv[2])
batch = dict(np.load(f"{folder}/batch.npz"))
out = {}
for name in names:
    model = train.load_model(f"{folder}/{name}.keras")
    out[name] = np.asarray(model(batch, training=False))
np.savez(f"{folder}/reloaded.npz", **out)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("mmer_tf.models."))))
"""


def batch(rng, rows: int = 8, steps: int = 4):
    data = {}
    for m, dim in DIMS.items():
        lengths = rng.integers(1, steps + 1, size=rows)
        data[f"{m}_mask"] = (np.arange(steps)[None, :] < lengths[:, None]).astype(np.float32)
        data[m] = rng.normal(size=(rows, steps, dim)).astype(np.float32) * data[f"{m}_mask"][..., None]
    return data


@pytest.mark.slow
def test_every_registered_model_reloads_in_a_fresh_process(tmp_path):
    rng = np.random.default_rng(0)
    data = batch(rng)
    target = rng.uniform(0, 1, size=(len(data["text_mask"]), OUTPUTS)).astype(np.float32)
    np.savez(tmp_path / "batch.npz", **data)
    names = sorted(registry.available())
    expected = {}
    for name in names:
        spec = registry.get(name)
        config = ExperimentConfig(model_name=name, num_layers=1, num_nodes=8, num_epochs=1, batch_size=4,
                                  model_hparams={k: v for k, v in SMALL.get(name, {}).items() if k in spec.hparams})
        keras.utils.set_random_seed(0)
        model = registry.build_model(config, DIMS, OUTPUTS)
        train.compile_model(model, config, "scores")
        model.run_eagerly = True  # one tiny epoch: tracing would cost more than the whole run
        model.fit(data, target, epochs=1, batch_size=4, verbose=0)
        model.save(tmp_path / f"{name}.keras")
        expected[name] = np.asarray(model(data, training=False))

    done = subprocess.run([sys.executable, "-c", RELOAD, str(tmp_path), json.dumps(names)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # the fresh process imported no model module: load_model alone registered every layer
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert not [m for m in imported if m.split(".")[2] in names], imported
    reloaded = np.load(tmp_path / "reloaded.npz")
    assert sorted(reloaded.files) == names
    for name in names:
        np.testing.assert_allclose(reloaded[name], expected[name], rtol=1e-6, atol=1e-6, err_msg=name)
