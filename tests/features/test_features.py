"""Sanitising, per-segment and training-set normalisation, fixed steps, early-fusion concatenation."""

from __future__ import annotations

import numpy as np
import pytest

from mmer_tf.data.normalization import (
    apply_statistics,
    normalize_folds,
    pack,
    sanitize,
    segment_zscore,
    train_statistics,
    unpack,
)
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError


def test_segment_zscore_golden_values_with_constant_feature_and_short_segments():
    segments = [
        np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]], dtype=np.float32),
        np.zeros((0, 2), dtype=np.float32),  # an empty segment
        np.array([[7.0, -2.0]], dtype=np.float32),  # one step: zero variance everywhere
    ]
    flat, offsets = pack(segments)
    out = unpack(segment_zscore(flat, offsets), offsets)
    k = np.sqrt(1.5)  # (x - 3) / sqrt(8/3) for x = 1, 5
    assert np.allclose(out[0], [[-k, 0.0], [0.0, 0.0], [k, 0.0]], atol=1e-6)
    assert out[1].shape == (0, 2)
    assert np.array_equal(out[2], [[0.0, 0.0]])
    assert np.all(np.isfinite(out[0]))


def test_segment_zscore_matches_a_per_segment_oracle():
    rng = np.random.default_rng(4)
    lengths = rng.integers(0, 12, 50)
    segments = [(rng.normal(3.0, 2.0, (n, 6)) * rng.uniform(0.1, 50, 6)).astype(np.float32) for n in lengths]
    segments[3][:, 2] = 4.25  # constant column inside one segment
    flat, offsets = pack(segments)
    got = unpack(segment_zscore(flat, offsets), offsets)
    for seg, out in zip(segments, got):
        if len(seg) == 0:
            assert out.shape == (0, 6)
            continue
        std = seg.astype(np.float64).std(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = np.nan_to_num((seg - seg.astype(np.float64).mean(axis=0)) / std)  # the seed's way
        assert np.allclose(out, expected, atol=1e-4)


def test_sanitize_sets_nan_and_infinities_to_zero():
    x = np.array([[np.nan, 1.0], [np.inf, -np.inf], [2.0, -3.0]], dtype=np.float64)
    out = sanitize(x)
    assert out.dtype == np.float32
    assert np.array_equal(out, [[0.0, 1.0], [0.0, 0.0], [2.0, -3.0]])


def _fold(ids, audio, text):
    return SegmentSet(
        ids=ids,
        features={"text": [np.asarray(t, np.float32) for t in text], "audio": [np.asarray(a, np.float32) for a in audio]},
        labels=np.zeros((len(ids), 7)),
    )


def test_train_statistics_normalisation_golden_and_applied_to_every_fold():
    train = _fold(["a[0]", "a[1]"], [[[0.0, 1.0], [2.0, 1.0]], [[4.0, 1.0], [np.nan, 1.0]]], [[[9.0]] * 2, [[9.0]] * 2])
    test = _fold(["b[0]"], [[[6.0, 3.0], [-np.inf, 1.0]]], [[[np.nan], [5.0]]])
    folds, report = normalize_folds({"train": train, "test": test}, "train")
    # train audio column 0 after sanitising: 0, 2, 4, 0 -> mean 1.5, std sqrt(2.75); column 1 constant
    mean, std = 1.5, np.sqrt(2.75)
    assert np.allclose(report["statistics"]["audio"]["mean"], [mean, 1.0])
    assert np.allclose(report["statistics"]["audio"]["std"], [std, 1.0])
    assert np.allclose(folds["train"].features["audio"][1], [[(4 - mean) / std, 0.0], [(0 - mean) / std, 0.0]])
    assert np.allclose(folds["test"].features["audio"][0], [[(6 - mean) / std, 2.0], [(0 - mean) / std, 0.0]])
    # text is sanitised but never normalised
    assert np.array_equal(folds["test"].features["text"][0], [[0.0], [5.0]])
    assert np.array_equal(folds["train"].features["text"][0], [[9.0], [9.0]])
    assert "text" not in report["statistics"]
    # inputs are untouched
    assert np.isnan(train.features["audio"][1][1, 0])


def test_segment_and_none_normalisation_modes():
    fold = _fold(["a[0]"], [[[1.0, np.nan], [3.0, 2.0]]], [[[1.0], [3.0]]])
    seg, report = normalize_folds({"train": fold}, "segment")
    assert report["statistics"] == {}
    assert np.allclose(seg["train"].features["audio"][0], [[-1.0, -1.0], [1.0, 1.0]])
    assert np.array_equal(seg["train"].features["text"][0], [[1.0], [3.0]])
    none, _ = normalize_folds({"train": fold}, "none")
    assert np.array_equal(none["train"].features["audio"][0], [[1.0, 0.0], [3.0, 2.0]])
    with pytest.raises(MmerError, match="normalization"):
        normalize_folds({"train": fold}, "minmax")


def test_train_statistics_equal_numpy_and_apply_inverts():
    rng = np.random.default_rng(2)
    flat = rng.normal(5.0, 3.0, (1000, 4)).astype(np.float32)
    mean, std = train_statistics(flat)
    assert np.allclose(mean, flat.mean(axis=0), atol=1e-4) and np.allclose(std, flat.std(axis=0), atol=1e-4)
    z = apply_statistics(flat, mean, std)
    assert np.allclose(z.mean(axis=0), 0.0, atol=1e-4) and np.allclose(z.std(axis=0), 1.0, atol=1e-4)


def test_an_empty_training_fold_names_the_real_cause_not_the_normalisation():
    def fold(n, steps):
        return SegmentSet(ids=[f"v[{i}]" for i in range(n)], labels=np.zeros((n, 7), np.float32), aligned=True,
                          features={"audio": [np.zeros((steps, 3), np.float32) for _ in range(n)]})

    with pytest.raises(MmerError) as error:
        normalize_folds({"train": fold(0, 2), "valid": fold(2, 2)}, "train")
    assert "training fold has no segments" in str(error.value) and "dropped" in str(error.value)
    assert "normalization" not in str(error.value)
    with pytest.raises(MmerError, match="modality 'audio' of the training fold \\(3 segments\\) has no time steps"):
        normalize_folds({"train": fold(3, 0)}, "train")
