"""The model zoo: every registered model builds for 1-3 modalities, ignores padding, reloads, learns.

Each model is built with tiny hyper-parameters (``TINY``) on tiny random NumPy batches, so the whole
file stays fast on a 2-core CPU. Properties checked for every registered model (ef_williams included):

- output shape ``[B, outputs]`` float32 for three, two and one modality;
- padding: appending masked steps full of noise leaves predictions unchanged, and changing a *real* step
  of any modality does change them (so no modality is silently ignored);
- ``.keras`` save -> load in a fresh object gives identical predictions;
- a few optimiser steps on a learnable target reduce the loss;
- MulT (and every model that does not need aligned input) on modalities of different lengths.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras

from mmer_tf.config import ExperimentConfig
from mmer_tf.models import registry
from mmer_tf.models.blocks.attention import LastRealStep
from mmer_tf.models.blocks.fusion import LowRankFusion, TensorFusion, TensorFusionDense

DIMS = {"text": 5, "audio": 4, "vision": 3}
SUBSETS = [("text", "audio", "vision"), ("text", "audio"), ("vision",)]
OUTPUTS = 3

# Tiny hyper-parameters per model (only keys a model declares are used; others keep the paper defaults).
TINY = {
    "ef_lstm": {"units": 4},
    "ef_williams": {"lstm_units": 4},
    "lf_dnn": {"hidden": 6, "sub_layers": 1},
    "lf_lstm": {"units": 4},
    "tfn": {"text_hidden": 4, "audio_hidden": 3, "vision_hidden": 3, "sub_layers": 1, "post_fusion": 8,
            "post_layers": 1},
    "lmf": {"text_hidden": 4, "audio_hidden": 3, "vision_hidden": 3, "sub_layers": 1, "rank": 2,
            "fusion_dim": 6},
    # kernel 3: the convolution straddles the end of each sequence, which the padding test must survive.
    "mult": {"d": 8, "layers": 1, "mem_layers": 1, "heads": 2, "kernel": 3, "attn_dropout": 0.0,
             "relu_dropout": 0.0, "res_dropout": 0.0, "embed_dropout": 0.0},
    "attn_fusion": {"d": 8, "heads": 2, "intra_layers": 1, "fusion_layers": 1, "attn_dropout": 0.0},
    "lfan": {"vision_channels": "6,4", "audio_channels": "4,4", "text_channels": "6,4", "tcn_kernel_size": 3,
             "modal_dim": 4, "num_heads": 2, "tcn_dropout": 0.0, "fusion_dropout": 0.0},
}

MODELS = sorted(registry.available())


def tiny_config(name: str) -> ExperimentConfig:
    spec = registry.get(name)
    hparams = {k: v for k, v in TINY.get(name, {}).items() if k in spec.hparams}
    return ExperimentConfig(model_name=name, num_layers=1, num_nodes=8, dropout_rate=0.0,
                            model_hparams=hparams)


def build(name: str, modalities, seed: int = 0):
    keras.utils.set_random_seed(seed)
    return registry.build_model(tiny_config(name), {m: DIMS[m] for m in modalities}, OUTPUTS)


def make_batch(modalities, lengths, steps, rng, garbage: float = 3.0):
    """Random features per modality; ``lengths[m]`` real steps per row, the rest masked noise.

    ``steps`` is an int (one time axis, aligned) or a dict ``{modality: T_m}`` (unaligned).
    """
    batch = {}
    for m in modalities:
        t = steps[m] if isinstance(steps, dict) else steps
        lens = np.asarray(lengths[m] if isinstance(lengths, dict) else lengths)
        mask = (np.arange(t)[None, :] < lens[:, None]).astype(np.float32)
        real = rng.normal(size=(len(lens), t, DIMS[m])).astype(np.float32)
        noise = garbage * rng.normal(size=real.shape).astype(np.float32)
        batch[m] = np.where(mask[..., None] > 0, real, noise)
        batch[f"{m}_mask"] = mask
    return batch


def pad_more(batch, extra, rng, garbage: float = 5.0):
    """The same batch with ``extra`` (int or per-modality dict) more masked steps full of noise."""
    out = {}
    for key, value in batch.items():
        m = key[:-5] if key.endswith("_mask") else key
        n = extra[m] if isinstance(extra, dict) else extra
        if key.endswith("_mask"):
            out[key] = np.concatenate([value, np.zeros((value.shape[0], n), np.float32)], axis=1)
        else:
            noise = garbage * rng.normal(size=(value.shape[0], n, value.shape[2])).astype(np.float32)
            out[key] = np.concatenate([value, noise], axis=1)
    return out


def predict(model, batch):
    return np.asarray(model(batch, training=False))


# ------------------------------------------------------------------------------------------------
# every model x modality subset: shape, padding, real-step sensitivity, .keras round trip
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("modalities", SUBSETS, ids=lambda s: "+".join(s))
@pytest.mark.parametrize("name", MODELS)
def test_builds_ignores_padding_and_reloads(name, modalities, tmp_path):
    model = build(name, modalities)
    rng = np.random.default_rng(1)
    batch = make_batch(modalities, [2, 6, 4, 1], 6, rng)

    out = predict(model, batch)
    assert out.shape == (4, OUTPUTS) and out.dtype == np.float32
    assert np.all(np.isfinite(out))

    padded = pad_more(batch, 5, rng)
    np.testing.assert_allclose(predict(model, padded), out, rtol=1e-5, atol=1e-5)

    for m in modalities:  # a real step of every modality matters
        changed = {k: v.copy() for k, v in batch.items()}
        changed[m][1, 0] += 2.0
        assert np.abs(predict(model, changed)[1] - out[1]).max() > 1e-6, f"{name} ignores {m}"

    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded is not model
    np.testing.assert_array_equal(predict(reloaded, batch), out)


# ------------------------------------------------------------------------------------------------
# learning
# ------------------------------------------------------------------------------------------------

def learnable_problem(modalities, rng, n: int = 32, steps: int = 5):
    """Targets are a fixed linear map of each row's real-step mean of every modality (plus a bias)."""
    lengths = rng.integers(1, steps + 1, size=n)
    batch = make_batch(modalities, lengths, steps, rng)
    pooled = []
    for m in modalities:
        w = batch[f"{m}_mask"][..., None]
        pooled.append((batch[m] * w).sum(1) / w.sum(1))
    features = np.concatenate(pooled, axis=1)
    weights = rng.normal(size=(features.shape[1], OUTPUTS)).astype(np.float32)
    target = (features @ weights / np.sqrt(features.shape[1]) + 0.5).astype(np.float32)
    return batch, target


@pytest.mark.parametrize("name", MODELS)
def test_a_few_training_steps_reduce_the_loss(name):
    modalities = ("text", "audio")  # bimodal keeps MulT to 4 transformers; 3 modalities are covered above
    model = build(name, modalities, seed=3)
    batch, target = learnable_problem(modalities, np.random.default_rng(4))
    # Eager steps: tracing a training graph costs far more than 20 tiny steps (30 s for MulT on 2 cores).
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mean_squared_error", run_eagerly=True)
    before = float(np.mean((predict(model, batch) - target) ** 2))
    for _ in range(12):
        model.train_on_batch(batch, target)
    after = float(np.mean((predict(model, batch) - target) ** 2))
    assert after < 0.7 * before, (name, before, after)


# ------------------------------------------------------------------------------------------------
# unaligned input (each modality at its own rate, with its own mask)
# ------------------------------------------------------------------------------------------------

UNALIGNED = [name for name in MODELS if not registry.get(name).needs_aligned]


def test_mult_and_late_fusion_do_not_need_alignment():
    assert {"mult", "lf_dnn", "lf_lstm", "tfn", "lmf", "attn_fusion"} <= set(UNALIGNED)
    assert registry.get("ef_lstm").needs_aligned


@pytest.mark.parametrize("name", UNALIGNED)
def test_unaligned_lengths(name, tmp_path):
    modalities = ("text", "audio", "vision")
    model = build(name, modalities, seed=5)
    rng = np.random.default_rng(6)
    lengths = {"text": [3, 1, 4], "audio": [9, 12, 2], "vision": [5, 7, 7]}
    batch = make_batch(modalities, lengths, {"text": 4, "audio": 12, "vision": 7}, rng)
    out = predict(model, batch)
    assert out.shape == (3, OUTPUTS) and np.all(np.isfinite(out))
    padded = pad_more(batch, {"text": 2, "audio": 7, "vision": 1}, rng)
    np.testing.assert_allclose(predict(model, padded), out, rtol=1e-5, atol=1e-5)
    if name == "mult":
        path = tmp_path / "mult.keras"
        model.save(path)
        np.testing.assert_array_equal(predict(keras.saving.load_model(path), batch), out)


def test_mult_has_a_crossmodal_transformer_per_direction():
    model = build("mult", ("text", "audio", "vision"))
    names = {layer.name for layer in model.layers}
    for source in DIMS:
        for target in DIMS:
            expected = f"{source}_to_{target}_block1_attention"
            assert (expected in names) == (source != target), expected
    bimodal = {layer.name for layer in build("mult", ("text", "audio")).layers}
    assert {"audio_to_text_block1_attention", "text_to_audio_block1_attention"} <= bimodal
    unimodal = {layer.name for layer in build("mult", ("vision",)).layers}
    assert not any("_to_" in n for n in unimodal) and "vision_self_block1_attention" in unimodal


# ------------------------------------------------------------------------------------------------
# fusion layers against NumPy oracles
# ------------------------------------------------------------------------------------------------

def test_tensor_fusion_is_the_outer_product_of_h_and_one():
    rng = np.random.default_rng(7)
    a, b, c = (rng.normal(size=(2, d)).astype(np.float32) for d in (2, 3, 1))
    got = np.asarray(TensorFusion()([a, b, c]))
    one = np.ones((2, 1), np.float32)
    expected = np.einsum("bi,bj,bk->bijk", np.hstack([a, one]), np.hstack([b, one]), np.hstack([c, one]))
    np.testing.assert_allclose(got, expected.reshape(2, -1), rtol=1e-6)
    assert got.shape == (2, 3 * 4 * 2)
    # the product of the three appended ones is the constant term, last in the flattened tensor
    np.testing.assert_allclose(got[:, -1], 1.0)


@pytest.mark.parametrize("dims", [(2, 3, 1), (5,), (4, 2), (3, 2, 2, 3)])
def test_tensor_fusion_dense_is_a_dense_layer_on_the_outer_product(dims):
    """TFN's first post-fusion layer, computed without forming the tensor, equals Dense(TensorFusion(h)) with
    the same kernel (rows in the tensor's flattening order), for one to four modalities, and its gradient
    with respect to the kernel is the outer product's."""
    rng = np.random.default_rng(9)
    z = [rng.normal(size=(3, d)).astype(np.float32) for d in dims]
    layer = TensorFusionDense(4, activation="relu", bias_initializer="ones")
    got = np.asarray(layer(z if len(z) > 1 else z[0]))
    outer = np.asarray(TensorFusion()(z))
    assert layer.kernel.shape == (outer.shape[1], 4)
    np.testing.assert_allclose(got, np.maximum(outer @ np.asarray(layer.kernel) + 1.0, 0.0), rtol=1e-5, atol=1e-6)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            total = tf.reduce_sum(layer(z if len(z) > 1 else z[0]))
        grad = tape.gradient(total, layer.kernel).numpy()
        active = (got > 0).astype(np.float32)  # ReLU passes the gradient where the output is positive
        np.testing.assert_allclose(grad, outer.T @ active, rtol=1e-5, atol=1e-5)


def test_low_rank_fusion_matches_the_full_tensor_it_factorises():
    """LMF output == TFN outer product times the weight tensor rebuilt from the rank-r factors."""
    rng = np.random.default_rng(8)
    z = [rng.normal(size=(3, d)).astype(np.float32) for d in (2, 3, 2)]
    layer = LowRankFusion(rank=3, output_dim=4)
    got = np.asarray(layer(z))
    factors = [np.asarray(f) for f in layer.factors]
    lam, bias = np.asarray(layer.fusion_weights), np.asarray(layer.bias)
    full = np.einsum("r,rio,rjo,rko->ijko", lam, *factors).reshape(-1, 4)
    outer = np.asarray(TensorFusion()(z))
    np.testing.assert_allclose(got, outer @ full + bias, rtol=1e-4, atol=1e-5)


def test_last_real_step_picks_each_rows_last_unmasked_element():
    x = np.arange(2 * 4 * 1, dtype=np.float32).reshape(2, 4, 1)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.float32)
    np.testing.assert_array_equal(np.asarray(LastRealStep()([x, mask]))[:, 0], [1.0, 7.0])
    empty = np.zeros((1, 4), np.float32)
    np.testing.assert_array_equal(np.asarray(LastRealStep()([x[:1], empty])), [[0.0]])
