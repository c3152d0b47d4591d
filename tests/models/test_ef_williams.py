"""ef_williams: builds for 1-3 layers, ignores padded steps, round-trips through .keras."""

import numpy as np
import pytest

import keras

from mmer_tf.config import ExperimentConfig
from mmer_tf.errors import MmerError
from mmer_tf.models import registry
from mmer_tf.models.ef_williams import fusion_order

DIMS = {"text": 5, "audio": 3, "vision": 2}


def small_config(**changes):
    base = ExperimentConfig(model_name="ef_williams", num_layers=1, num_nodes=6, dropout_rate=0.2,
                            model_hparams={"lstm_units": 4})
    return base.replace(**changes)


def batch(lengths, steps, rng, garbage=0.0):
    """Random features; steps beyond each length are masked and filled with ``garbage`` noise."""
    x = {}
    mask = (np.arange(steps)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
    for m, d in DIMS.items():
        real = rng.normal(size=(len(lengths), steps, d)).astype(np.float32)
        noise = garbage * rng.normal(size=real.shape).astype(np.float32)
        x[m] = np.where(mask[..., None] > 0, real, noise)
        x[f"{m}_mask"] = mask
    return x


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_builds_with_1_to_3_bilstm_layers(layers):
    keras.utils.set_random_seed(0)
    model = registry.build_model(small_config(num_layers=layers), DIMS, 6)
    bilstms = [l for l in model.layers if l.name.startswith("bilstm_")]
    assert len(bilstms) == layers
    lstm = bilstms[0].forward_layer
    assert (lstm.units, lstm.recurrent_dropout, lstm.unroll, lstm.use_bias) == (4, 0.0, False, True)
    assert lstm.activation.__name__ == "tanh" and lstm.recurrent_activation.__name__ == "sigmoid"
    out = model.predict(batch([3, 5], 5, np.random.default_rng(0)), verbose=0)
    assert out.shape == (2, 6) and out.dtype == np.float32
    assert model.get_layer("output").activation.__name__ == "linear"
    assert model.get_layer("hidden").units == 6


def test_fusion_order_is_text_vision_audio():
    assert fusion_order(["audio", "text", "vision"]) == ["text", "vision", "audio"]
    assert fusion_order(["audio", "extra", "text"]) == ["text", "audio", "extra"]


@pytest.mark.parametrize("layers", [1, 2])
def test_extra_masked_steps_do_not_change_predictions(layers):
    """Padding a batch with more masked steps (even full of noise) leaves every prediction unchanged."""
    keras.utils.set_random_seed(1)
    model = registry.build_model(small_config(num_layers=layers), DIMS, 3)
    rng = np.random.default_rng(2)
    lengths = [2, 6, 4, 1]
    short = batch(lengths, 6, rng)
    longer = {}
    for key, value in short.items():
        pad_shape = (value.shape[0], 5) + value.shape[2:]
        pad = np.zeros(pad_shape, np.float32) if key.endswith("_mask") else 9 * rng.normal(size=pad_shape)
        longer[key] = np.concatenate([value, pad.astype(np.float32)], axis=1)
    base = model.predict(short, verbose=0)
    np.testing.assert_allclose(model.predict(longer, verbose=0), base, rtol=1e-5, atol=1e-6)
    # and the mask really matters: unmasking the noise changes the answer
    unmasked = {k: (np.ones_like(v) if k.endswith("_mask") else v) for k, v in longer.items()}
    assert np.abs(model.predict(unmasked, verbose=0) - base).max() > 1e-3


def test_keras_save_and_reload_gives_identical_predictions(tmp_path):
    keras.utils.set_random_seed(3)
    model = registry.build_model(small_config(num_layers=2, fixed_num_steps=0), DIMS, 6)
    x = batch([3, 5, 1], 5, np.random.default_rng(4))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_fixed_steps_model_and_single_modality():
    model = registry.build_model(small_config(fixed_num_steps=4), {"audio": 3}, 2)
    assert tuple(model.input["audio"].shape) == (None, 4, 3)
    assert tuple(model.input["audio_mask"].shape) == (None, 4)
    rng = np.random.default_rng(5)
    x = {"audio": rng.normal(size=(2, 4, 3)).astype(np.float32), "audio_mask": np.ones((2, 4), np.float32)}
    assert model.predict(x, verbose=0).shape == (2, 2)


def test_bad_final_activation_is_a_user_error():
    with pytest.raises(MmerError, match="final_activ"):
        registry.build_model(small_config(final_activ="nope"), DIMS, 6)


def test_mixed_precision_keeps_float32_output():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = registry.build_model(small_config(), DIMS, 6)
        assert model.get_layer("bilstm_1").compute_dtype == "float16"
        out = model(batch([2, 3], 3, np.random.default_rng(6)))
        assert keras.ops.convert_to_numpy(out).dtype == np.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("layers", [1, 3])
def test_dropout_follows_each_bilstm_as_in_the_original(layers):
    """The original: Bidirectional(LSTM) then Dropout(-d) per layer; no dropout inside the LSTM."""
    model = registry.build_model(small_config(num_layers=layers, dropout_rate=0.3), DIMS, 6)
    names = [layer.name for layer in model.layers]
    for i in range(1, layers + 1):
        bilstm = model.get_layer(f"bilstm_{i}")
        assert bilstm.forward_layer.dropout == 0.0 and bilstm.backward_layer.dropout == 0.0
        drop = model.get_layer(f"lstm_dropout_{i}")
        assert isinstance(drop, keras.layers.Dropout) and drop.rate == pytest.approx(0.3)
        assert names.index(f"lstm_dropout_{i}") > names.index(f"bilstm_{i}")
        # the dropout reads exactly the BiLSTM's output
        assert drop._inbound_nodes[0].operation is drop and \
            drop._inbound_nodes[0].input_tensors[0] is bilstm.output
    # Dropout is active in training: two training-mode calls differ, inference is deterministic.
    x = batch([3, 5], 5, np.random.default_rng(7))
    a = keras.ops.convert_to_numpy(model(x, training=True))
    b = keras.ops.convert_to_numpy(model(x, training=True))
    assert np.abs(a - b).max() > 0
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
