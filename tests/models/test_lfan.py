"""``lfan``: the original's parameter count, per-step outputs, rate matching, TF == JAX, fresh-process reload.

The parameter oracle is the original's PyTorch modules counted by hand from its code (``models/model.py``
class ``LFAN``, ``models/temporal_convolutional_model.py``, ``models/transformer.py``): per TCN block two
weight-normalised ``Conv1d`` (``v``: out*in*k, ``g``: out, bias: out), a 1x1 ``downsample`` when the width
changes, then ``BatchNorm1d`` (2*C trainable), per modality ``qkv_proj`` ``Linear(C, 3*modal_dim)``, one
``o_proj`` ``Linear(M*modal_dim, M*modal_dim)``, ``LayerNorm(M*modal_dim)`` and the ``regressor``
``Linear(C_leader + M*modal_dim, outputs)``. Ours has no weight norm, so it has exactly the ``g`` scales less.
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

from mmer_tf.config import ExperimentConfig
from mmer_tf.errors import MmerError
from mmer_tf.models import registry
from mmer_tf.models.blocks.temporal import resample_weights

ROOT = Path(__file__).resolve().parents[2]
TINY = {"vision_channels": "6,4", "audio_channels": "4,4", "text_channels": "6,4", "tcn_kernel_size": 3,
        "modal_dim": 4, "num_heads": 2, "tcn_dropout": 0.0, "fusion_dropout": 0.0}
DIMS = {"text": 5, "audio": 4, "vision": 3}


def original_lfan_params(inputs, channels, modal_dim=32, outputs=7, kernel=5):
    """(trainable parameters of the original LFAN above its frozen backbones, of which weight-norm ``g``)."""
    total, scales = 0, 0
    for m, d in inputs.items():
        prev = d
        for out in channels[m]:
            total += (out * prev * kernel + 2 * out) + (out * out * kernel + 2 * out)
            scales += 2 * out
            if prev != out:
                total += out * prev + out
            prev = out
        total += 2 * prev + prev * 3 * modal_dim + 3 * modal_dim
    width = modal_dim * len(inputs)
    leader = next(iter(inputs))
    total += width * width + width + 2 * width + (channels[leader][-1] + width) * outputs + outputs
    return total, scales


def trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def config(hp=None, activ="softmax"):
    return ExperimentConfig(model_name="lfan", final_activ=activ, model_hparams=dict(hp or {}))


def batch_of(lengths, steps, rng, dims=DIMS):
    batch = {}
    for m, d in dims.items():
        t = steps[m] if isinstance(steps, dict) else steps
        lens = np.asarray(lengths[m] if isinstance(lengths, dict) else lengths)
        mask = (np.arange(t)[None, :] < lens[:, None]).astype(np.float32)
        batch[m] = np.where(mask[..., None] > 0, rng.normal(size=(len(lens), t, d)), 9.0).astype(np.float32)
        batch[f"{m}_mask"] = mask
    return batch


def test_parameter_count_of_the_original_defaults():
    # vision 512-d (the ResNet backbone's embedding), audio 128-d (VGGish), text 768-d (BERT); 7 compound classes
    inputs = {"vision": 512, "audio": 128, "text": 768}
    channels = {"vision": [512, 256, 256, 128], "audio": [32] * 4, "text": [256, 256, 128, 128]}
    original, scales = original_lfan_params(inputs, channels)
    assert (original, scales) == (7_383_495, 4_096)  # the figures docs/MODELS.md states
    keras.utils.set_random_seed(0)
    model = registry.build_model(config(), {"text": 768, "audio": 128, "vision": 512}, 7)
    assert trainable(model) == original - scales == 7_379_399


def test_per_step_output_is_causal_and_ignores_padding():
    keras.utils.set_random_seed(1)
    model = registry.build_model(config(TINY), DIMS, 3, per_step=True)
    rng = np.random.default_rng(2)
    batch = batch_of([6, 4], 6, rng)
    out = np.asarray(model(batch, training=False))
    assert out.shape == (2, 6, 3)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)  # a softmax per step
    longer = batch_of([6, 4], 9, np.random.default_rng(2))  # same real steps, more padding
    for key in batch:
        longer[key][:, :6] = batch[key]
    np.testing.assert_allclose(np.asarray(model(longer, training=False))[:, :6], out, atol=1e-5)
    changed = {k: v.copy() for k, v in batch.items()}
    changed["vision"][0, 3] += 3.0  # the leader at step 3 changes steps 3.. only (causal convolutions)
    diff = np.abs(np.asarray(model(changed, training=False)) - out)[0].max(-1)
    assert diff[:3].max() < 1e-6 and diff[3:].min() > 1e-6


def test_segment_level_output_is_the_mean_of_step_logits():
    keras.utils.set_random_seed(3)
    per_step = registry.build_model(config(TINY, "linear"), DIMS, 2, per_step=True)
    pooled = registry.build_model(config(TINY, "linear"), DIMS, 2)
    pooled.set_weights(per_step.get_weights())
    batch = batch_of([5, 2], 5, np.random.default_rng(4))
    steps = np.asarray(per_step(batch, training=False))
    expected = np.stack([steps[0, :5].mean(0), steps[1, :2].mean(0)])
    np.testing.assert_allclose(np.asarray(pooled(batch, training=False)), expected, rtol=1e-5, atol=1e-6)


def test_area_resampling_by_hand():
    def weights(source_len, target_len, source_steps=6, target_steps=5):
        s = (np.arange(source_steps) < source_len).astype(np.float32)[None]
        t = (np.arange(target_steps) < target_len).astype(np.float32)[None]
        return np.asarray(resample_weights(s, t))[0]

    np.testing.assert_allclose(weights(4, 4)[:4, :4], np.eye(4), atol=1e-7)
    np.testing.assert_allclose(weights(4, 2)[:2, :4], [[.5, .5, 0, 0], [0, 0, .5, .5]], atol=1e-6)  # averaged
    np.testing.assert_allclose(weights(2, 4)[:4, :2], [[1, 0], [1, 0], [0, 1], [0, 1]], atol=1e-6)  # repeated
    np.testing.assert_allclose(weights(3, 2)[:2, :3], [[2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3]], atol=1e-6)
    w = weights(3, 2)
    assert np.all(w[2:] == 0) and np.all(w[:, 3:] == 0)  # padding neither gives nor takes


def test_a_segment_model_is_refused_for_per_frame_labels():
    with pytest.raises(MmerError, match="lf_lstm: predicts one output per segment.*lfan"):
        registry.build_model(ExperimentConfig(model_name="lf_lstm"), DIMS, 3, per_step=True)


def test_bad_hyper_parameters_are_one_line_errors_before_any_work():
    cases = [({"modal_dim": 5}, "^--lfan_num_heads: 2 heads do not divide --lfan_modal_dim=5"),
             ({"audio_channels": "x"}, "^--lfan_audio_channels: 'x' is not a comma-separated list"),
             ({"text_channels": "4,0"}, "^--lfan_text_channels: '4,0'"),
             ({"leader": "face"}, "^--lfan_leader: 'face' is not one of text, audio, vision")]
    for hp, message in cases:
        with pytest.raises(MmerError, match=message):
            registry.validate("lfan", {**registry.resolve_hparams("lfan"), **TINY, **hp})
        with pytest.raises(MmerError, match=message):
            registry.build_model(config({**TINY, **hp}), DIMS, 3)


JAX_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax", keras.backend.backend()
    from mmer_tf import train
    folder = sys.argv[1]
    out = {}
    for name in ("steps", "pooled"):
        data = np.load(f"{folder}/{name}.npz")
        batch = {k: data[k] for k in data.files if k != "expected"}
        model = train.load_model(f"{folder}/{name}.keras")
        out[name] = float(np.abs(np.asarray(model(batch, training=False)) - data["expected"]).max())
    print("REPORT" + json.dumps(out))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_tensorflow_and_jax_agree_and_a_fresh_process_reloads(tmp_path):
    rng = np.random.default_rng(5)
    lengths = {"text": [3, 1], "audio": [9, 4], "vision": [7, 5]}
    batch = batch_of(lengths, {"text": 3, "audio": 9, "vision": 7}, rng)
    for name, per_step in (("steps", True), ("pooled", False)):
        keras.utils.set_random_seed(6)
        model = registry.build_model(config(TINY), DIMS, 3, per_step=per_step)
        # one training step so BatchNorm's moving statistics are not the identity
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        target = np.eye(3, dtype=np.float32)[[0, 2]]
        model.train_on_batch(batch, target[:, None].repeat(7, 1) if per_step else target)
        model.save(tmp_path / f"{name}.keras")
        np.savez(tmp_path / f"{name}.npz", expected=np.asarray(model(batch, training=False)), **batch)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT, str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    report = json.loads(lines[-1][len("REPORT"):])
    assert report["steps"] < 1e-4 and report["pooled"] < 1e-4, report


def test_the_leader_is_lfan_leader_else_the_runs_first_modality():
    def leader_branch(hp, dims):
        model = registry.build_model(config({**TINY, **hp}), dims, 3, per_step=True)
        joined = model.get_layer("leader_and_followers")
        return joined._inbound_nodes[0].input_tensors[0]._keras_history.operation.name

    assert leader_branch({}, DIMS) == "vision_bn"  # the original's leader, video
    assert leader_branch({"leader": "audio"}, DIMS) == "audio_bn"
    assert leader_branch({}, {"text": 5, "audio": 4}) == "text_bn"  # no vision: the first of text, audio, vision


def test_the_seeds_flag_names_are_aliases_of_lfans():
    from absl import flags

    from mmer_tf import cli_flags

    values = flags.FlagValues()
    cli_flags.define_flags(values)
    values(["main.py", "-mn", "lfan", "--tcn_kernel_size", "3", "--modal_dim", "16", "--num_heads", "4"])
    hp = cli_flags.config_from_flags(values).model_hparams
    assert (hp["tcn_kernel_size"], hp["modal_dim"], hp["num_heads"]) == (3, 16, 4)


def test_predict_refuses_a_per_frame_model_in_one_line():
    from mmer_tf import predict
    from mmer_tf.data.segments import SegmentSet

    keras.utils.set_random_seed(7)
    model = registry.build_model(config(TINY), {"audio": 4, "vision": 3}, 2, per_step=True)
    rng = np.random.default_rng(8)
    clips = SegmentSet(["a[0]"], {"audio": [rng.normal(size=(3, 4))], "vision": [rng.normal(size=(3, 3))]},
                       np.zeros((1, 1)))
    with pytest.raises(MmerError, match="predicts one output per frame"):
        predict.model_scores(model, clips, {"classes": ["x", "y"], "modalities": ["audio", "vision"]})
