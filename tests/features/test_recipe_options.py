"""Seed 003's training recipe, each option shown by its effect: mixup batches are convex combinations,
label smoothing trains on Keras' smoothed targets, time/feature masks zero spans inside the real steps,
balanced class weights follow n / (K n_k), and none of it reaches validation batches."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mmer_tf.augment import balanced_class_weights, for_training, span_mask, training_loss
from mmer_tf.augment.masking import mask_sequence
from mmer_tf.augment.mixup import mix
from mmer_tf.config import ExperimentConfig
from mmer_tf.data import pipeline
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError


def _segments(n=24, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 9, n)
    features = {
        "audio": [rng.normal(size=(int(t), 4)).astype("float32") + 5.0 for t in lengths],
        "vision": [rng.normal(size=(int(t), 3)).astype("float32") + 5.0 for t in lengths],
    }
    classes = np.arange(n) % 3
    labels = np.eye(3, dtype="float32")[classes]
    segments = SegmentSet(ids=[f"s{i}" for i in range(n)],
                          features=features, labels=labels, aligned=True)
    return segments, labels


def _config(**changes):
    base = dict(modalities=("audio", "vision"), label_type="category", final_activ="softmax", seed=3)
    base.update(changes)
    return ExperimentConfig(**base)


def _pair(config, n=24, batch=8):
    segments, labels = _segments(n)
    plain = pipeline.make_dataset(segments, labels, batch_size=batch, shuffle=True, seed=config.seed,
                                  modalities=config.modalities)
    again = pipeline.make_dataset(segments, labels, batch_size=batch, shuffle=True, seed=config.seed,
                                  modalities=config.modalities)
    return list(plain), list(for_training(again, config, labels, "classes"))


def test_mix_is_the_convex_combination_with_union_masks():
    x = {"audio": np.arange(12, dtype="float32").reshape(2, 3, 2),
         "audio_mask": np.array([[1, 1, 0], [1, 0, 0]], "float32")}
    y = np.array([[1, 0], [0, 1]], "float32")
    mixed, my = mix(x, y, 0.25, np.array([1, 0]))
    np.testing.assert_allclose(mixed["audio"][0], 0.25 * x["audio"][0] + 0.75 * x["audio"][1])
    np.testing.assert_allclose(mixed["audio_mask"], [[1, 1, 0], [1, 1, 0]])
    np.testing.assert_allclose(my, [[0.25, 0.75], [0.75, 0.25]])


def test_mixup_batches_are_convex_combinations_of_the_plain_batches():
    plain, mixed = _pair(_config(mixup_alpha=1.0, mixup_prob=1.0))
    moved = 0
    for (x0, y0), (x1, y1) in zip(plain, mixed):
        x0 = {k: v.numpy() for k, v in x0.items()}
        y0, y1 = y0.numpy(), y1.numpy()
        np.testing.assert_allclose(y1.sum(axis=1), 1.0, rtol=1e-6)
        assert (y1 >= -1e-7).all()
        # lambda from a row whose partner has another class: its own class keeps weight lambda
        candidates = [y1[i, y0[i].argmax()] for i in range(len(y1)) if y1[i].max() < 1.0 - 1e-6]
        lam = candidates[0] if candidates else 1.0
        for i in range(len(y1)):
            found = False
            for j in range(len(y1)):
                target = lam * y0[i] + (1 - lam) * y0[j]
                value = lam * x0["audio"][i] + (1 - lam) * x0["audio"][j]
                if np.allclose(y1[i], target, atol=1e-6) and np.allclose(x1["audio"][i], value, atol=1e-5):
                    np.testing.assert_allclose(x1["audio_mask"][i], np.maximum(x0["audio_mask"][i],
                                                                               x0["audio_mask"][j]))
                    np.testing.assert_allclose(x1["vision"][i], lam * x0["vision"][i] + (1 - lam) * x0["vision"][j],
                                               atol=1e-5)
                    found = True
                    break
            assert found, f"row {i} is no convex combination of two plain rows"
        moved += int(not np.allclose(y1, y0))
    assert moved > 0


def test_mixup_probability_zero_and_no_option_leave_batches_alone():
    segments, labels = _segments()
    dataset = pipeline.make_dataset(segments, labels, batch_size=8, shuffle=True, seed=3)
    assert for_training(dataset, _config(), labels, "classes") is dataset
    plain, mixed = _pair(_config(mixup_alpha=1.0, mixup_prob=0.0))
    for (x0, y0), (x1, y1) in zip(plain, mixed):
        np.testing.assert_array_equal(y0.numpy(), y1.numpy())
        np.testing.assert_array_equal(x0["audio"].numpy(), x1["audio"].numpy())


def test_label_smoothing_trains_on_keras_smoothed_targets():
    y = np.array([[0, 1, 0], [1, 0, 0]], "float32")
    p = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], "float32")
    loss = training_loss("categorical_crossentropy", _config(label_smoothing=0.1))
    smoothed = y * 0.9 + 0.1 / 3
    expected = keras.losses.categorical_crossentropy(smoothed, p)
    assert float(loss(y, p)) == pytest.approx(float(np.mean(expected)), rel=1e-6)
    assert float(loss(y, p)) != pytest.approx(float(np.mean(keras.losses.categorical_crossentropy(y, p))), rel=1e-3)
    binary = training_loss("binary_crossentropy", _config(label_smoothing=0.2))
    expected = np.mean(keras.losses.binary_crossentropy(y * 0.8 + 0.1, p))
    assert float(binary(y, p)) == pytest.approx(float(expected), rel=1e-6)
    assert training_loss("categorical_crossentropy", _config()) == "categorical_crossentropy"
    with pytest.raises(MmerError, match="cross"):
        training_loss("mean_absolute_error", _config(label_smoothing=0.1))


def test_span_mask_zeroes_exactly_the_given_spans():
    got = span_mask(np.array([[1, 5], [0, 0]]), np.array([[2, 1], [0, 3]]), 7).numpy()
    np.testing.assert_array_equal(got, [[1, 0, 0, 1, 1, 0, 1], [0, 0, 0, 1, 1, 1, 1]])


def _runs(row):
    """(start, width) of each run of zeros in a 1-D 0/1 array."""
    runs, start = [], None
    for t, v in enumerate(list(row) + [1]):
        if v == 0 and start is None:
            start = t
        if v != 0 and start is not None:
            runs.append((start, t - start))
            start = None
    return runs


def test_time_masks_zero_spans_within_the_real_steps_only():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = rng.uniform(1.0, 2.0, (64, 12, 5)).astype("float32")
    lengths = rng.integers(3, 13, 64)
    mask = (np.arange(12)[None, :] < lengths[:, None]).astype("float32")
    x = x * mask[..., None]
    out = mask_sequence(tf.constant([7, 1], tf.int64), tf.constant(x), tf.constant(mask), 4, 0, 1).numpy()
    zero_steps = (out == 0).all(axis=-1) & (mask > 0)
    widths = []
    for i in range(64):
        runs = _runs((~zero_steps[i]).astype(int))
        assert len(runs) <= 1 and all(w <= 4 for _, w in runs)
        widths += [w for _, w in runs]
        kept = ~zero_steps[i] & (mask[i] > 0)
        np.testing.assert_array_equal(out[i][kept], x[i][kept])  # everything else untouched
        np.testing.assert_array_equal(out[i][mask[i] == 0], 0.0)
    assert max(widths) == 4 and len(widths) > 32  # spans of every width up to --time_mask occur


def test_feature_masks_zero_bands_across_every_step():
    import tensorflow as tf

    x = np.ones((32, 6, 10), "float32")
    mask = np.ones((32, 6), "float32")
    out = mask_sequence(tf.constant([3, 2], tf.int64), tf.constant(x), tf.constant(mask), 0, 3, 2).numpy()
    zeroed = 0
    for i in range(32):
        columns = (out[i] == 0).all(axis=0)
        assert ((out[i] == 0) == columns[None, :]).all()  # a band covers every step
        runs = _runs((~columns).astype(int))
        assert columns.sum() <= 6 and len(runs) <= 2  # two bands of at most 3 (they may touch or overlap)
        zeroed += int(columns.any())
    assert zeroed > 16


def test_masking_reaches_training_batches_only():
    config = _config(time_mask=2, mask_modalities=("audio",))
    plain, masked = _pair(config)
    changed = False
    for (x0, y0), (x1, y1) in zip(plain, masked):
        np.testing.assert_array_equal(x0["vision"].numpy(), x1["vision"].numpy())  # not listed: untouched
        np.testing.assert_array_equal(x0["audio_mask"].numpy(), x1["audio_mask"].numpy())
        changed |= not np.array_equal(x0["audio"].numpy(), x1["audio"].numpy())
    assert changed
    # determinism: the same seed gives the same augmented batches
    _, again = _pair(config)
    for (x1, _), (x2, _) in zip(masked, again):
        np.testing.assert_array_equal(x1["audio"].numpy(), x2["audio"].numpy())


def test_balanced_class_weights_and_sample_weights():
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.array([0, 0, 0, 0, 1, 1, 2, 0, 1])
    weights = balanced_class_weights(np.eye(3)[classes])
    np.testing.assert_allclose(weights, compute_class_weight("balanced", classes=np.arange(3), y=classes), rtol=1e-6)
    segments, labels = _segments(12)
    labels = np.eye(3, dtype="float32")[[0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2]]
    dataset = pipeline.make_dataset(segments, labels, batch_size=4, shuffle=True, seed=1)
    expected = balanced_class_weights(labels)
    for x, y, w in for_training(dataset, _config(class_weight="balanced"), labels, "classes"):
        np.testing.assert_allclose(w.numpy(), expected[y.numpy().argmax(axis=1)], rtol=1e-6)
    with pytest.raises(MmerError, match="category"):
        for_training(dataset, _config(class_weight="balanced", label_type="all"), labels, "scores")


def test_per_frame_batches_keep_their_step_weights_through_mixup():
    import tensorflow as tf

    rng = np.random.default_rng(4)
    x = {"audio": rng.normal(size=(8, 5, 3)).astype("float32"), "audio_mask": np.ones((8, 5), "float32")}
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, (8, 5))]
    w = (rng.uniform(size=(8, 5)) > 0.3).astype("float32")  # unlabelled frames weigh 0
    dataset = tf.data.Dataset.from_tensors((x, y, w))
    config = _config(modalities=("audio",), mixup_alpha=1.0, mixup_prob=1.0, time_mask=1)
    (x1, y1, w1), = list(for_training(dataset, config, y[:, 0], "classes"))
    assert y1.shape == y.shape and w1.shape == w.shape
    assert (w1.numpy() <= w).all() and not np.array_equal(y1.numpy(), y)
    np.testing.assert_allclose(y1.numpy().sum(axis=-1), 1.0, rtol=1e-6)
    with pytest.raises(MmerError, match="per frame"):
        for_training(dataset, _config(modalities=("audio",), class_weight="balanced"), y[:, 0], "classes")
