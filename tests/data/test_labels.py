"""Label transforms: golden values on hand-made rows (ties, all-zero rows, neutral, thresholds)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mmer_tf.data import labels as lab
from mmer_tf.errors import MmerError

T = 1 / 3  # shorthand for annotation thirds


def rows7(*emotion_rows, sentiment=-1.5):
    """[N, 7] labels with a sentiment column the transforms must ignore."""
    scores = np.asarray(emotion_rows, dtype=np.float32)
    return np.concatenate([np.full((len(scores), 1), sentiment, np.float32), scores], axis=1)


def test_observed_scores_are_the_seed_list():
    expected = [0, 1 / 6, 1 / 3, 1 / 2, 2 / 3, 1, 4 / 3, 5 / 3, 2, 7 / 3, 8 / 3, 3]
    np.testing.assert_allclose(lab.OBSERVED_SCORES, expected)
    assert lab.EMOTIONS == ("happy", "sad", "anger", "surprise", "disgust", "fear")
    assert lab.class_names(False) == lab.EMOTIONS
    assert lab.class_names(True) == lab.EMOTIONS + ("neutral",)


def test_emotion_scores_drops_sentiment_and_rejects_other_shapes():
    labels = rows7([0, 1, 2, 3, 0.5, 1 / 6], sentiment=2.0)
    out = lab.emotion_scores(labels)
    assert out.dtype == np.float32 and out.shape == (1, 6)
    np.testing.assert_allclose(out[0], [0, 1, 2, 3, 0.5, 1 / 6], rtol=1e-6)
    with pytest.raises(ValueError):
        lab.emotion_scores(np.zeros((3, 6)))


def test_nearest_golden_with_ties_to_lower_and_clamping():
    values = [0, 1, 2, 3]
    got = lab.nearest(np.array([[-0.4, 0.49, 0.5, 0.51, 1.5, 2.5, 2.9, 3.7]]), values)
    np.testing.assert_array_equal(got, [[0, 0, 0, 1, 1, 2, 3, 3]])
    # unsorted/duplicated values are fine
    np.testing.assert_array_equal(lab.nearest([1.2, 2.8], [3, 0, 1, 1]), [1, 3])
    with pytest.raises(ValueError):
        lab.nearest([np.nan], values)


def test_scores_all_snaps_raw_outputs_and_keeps_float32_annotations():
    raw = np.array([[0.05, 0.1, 0.2, 0.45, 0.6, 0.9, 1.2, 1.6, 2.1, 2.4, 2.7, 3.3]])
    np.testing.assert_allclose(
        lab.scores_all(raw), [[0, 1 / 6, 1 / 6, 1 / 2, 2 / 3, 1, 4 / 3, 5 / 3, 2, 7 / 3, 8 / 3, 3]], rtol=1e-6
    )
    # annotations stored as float32 come back as the same observed values
    stored = lab.OBSERVED_SCORES.astype(np.float32)[None, :]
    np.testing.assert_allclose(lab.scores_all(stored), stored, rtol=1e-6)


def test_scores_coarse_golden():
    scores = np.array([[0, 1 / 6, 1 / 3, 1 / 2, 2 / 3, 1], [4 / 3, 5 / 3, 2, 7 / 3, 8 / 3, 3]])
    np.testing.assert_array_equal(lab.scores_coarse(scores), [[0, 0, 0, 0, 1, 1], [1, 2, 2, 2, 3, 3]])


def test_presence_threshold_zero_is_strict_and_positive_threshold_inclusive():
    scores = np.array([[0, 1 / 6, 1, 0.5, 2, 3], [0, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(lab.presence(scores, 0), [[0, 1, 1, 1, 1, 1], [0] * 6])
    np.testing.assert_array_equal(lab.presence(scores, 1), [[0, 0, 1, 0, 1, 1], [0] * 6])
    np.testing.assert_array_equal(lab.presence(scores, 0.5), [[0, 0, 1, 1, 1, 1], [0] * 6])
    assert lab.presence(scores).dtype == np.int8
    for bad in (-0.1, 3.5):
        with pytest.raises(MmerError, match="-tp"):
            lab.presence(scores, bad)


def test_dominant_keeps_all_ties_and_all_zero_row_has_none():
    scores = np.array(
        [
            [0, 1, 2, 2, 0, 1 / 3],  # anger and surprise tie
            [3, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0],
            [T, T, T, T, T, T],
        ]
    )
    expected = [[0, 0, 1, 1, 0, 0], [1, 0, 0, 0, 0, 0], [0] * 6, [1] * 6]
    np.testing.assert_array_equal(lab.dominant(scores), expected)


def test_with_neutral_marks_rows_with_no_class():
    classes = np.array([[0, 0, 1, 1, 0, 0], [0] * 6], dtype=np.int8)
    out = lab.with_neutral(classes)
    np.testing.assert_array_equal(out, [[0, 0, 1, 1, 0, 0, 0], [0] * 6 + [1]])
    assert out.dtype == np.int8


def test_output_kind_and_num_outputs():
    assert lab.output_kind("all") == lab.output_kind("coarse") == "scores"
    assert lab.output_kind("present") == lab.output_kind("dominant") == "probabilities"
    assert lab.num_outputs("all", True) == 6
    assert lab.num_outputs("present", False) == 6
    assert lab.num_outputs("dominant", True) == 7
    with pytest.raises(MmerError, match="-lt"):
        lab.output_kind("sentiment")


def test_make_targets_golden_for_every_label_type():
    labels = rows7([0, 1 / 6, 0.5, 2, 2, 0.6666667], [0] * 6, [1 / 3, 0, 0, 0, 0, 8 / 3])
    all_ = lab.make_targets(labels, "all")
    assert all_.dtype == np.float32 and all_.shape == (3, 6)
    np.testing.assert_allclose(all_[0], [0, 1 / 6, 0.5, 2, 2, 2 / 3], rtol=1e-6)
    np.testing.assert_array_equal(lab.make_targets(labels, "all", neutral=True), all_)
    np.testing.assert_array_equal(
        lab.make_targets(labels, "coarse"), [[0, 0, 0, 2, 2, 1], [0] * 6, [0, 0, 0, 0, 0, 3]]
    )
    np.testing.assert_array_equal(
        lab.make_targets(labels, "present"), [[0, 1, 1, 1, 1, 1], [0] * 6, [1, 0, 0, 0, 0, 1]]
    )
    np.testing.assert_array_equal(
        lab.make_targets(labels, "present", neutral=True, threshold=1.0),
        [[0, 0, 0, 1, 1, 0, 0], [0] * 6 + [1], [0, 0, 0, 0, 0, 1, 0]],
    )
    dom = lab.make_targets(labels, "dominant", neutral=True)
    assert dom.dtype == np.float32
    np.testing.assert_array_equal(dom, [[0, 0, 0, 1, 1, 0, 0], [0] * 6 + [1], [0, 0, 0, 0, 0, 1, 0]])
    np.testing.assert_array_equal(lab.make_targets(labels, "dominant"), dom[:, :6])


def test_presence_threshold_above_every_score_gives_neutral_rows():
    labels = rows7([0.5, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(lab.make_targets(labels, "present", True, 3.0), [[0] * 6 + [1]])


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, (7, 6), elements=st.floats(-1, 4, allow_nan=False)))
def test_nearest_is_the_true_argmin_distance(scores):
    got = lab.scores_all(scores)
    distance = np.abs(scores[..., None] - lab.OBSERVED_SCORES)
    # argmin takes the first (lowest) of tied values: the documented tie rule
    expected = lab.OBSERVED_SCORES[distance.argmin(axis=-1)].astype(np.float32)
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_dominant_and_neutral_properties(seed):
    rng = np.random.default_rng(seed)
    scores = rng.choice(lab.OBSERVED_SCORES, size=(40, 6), p=[0.6] + [0.4 / 11] * 11)
    dom = lab.dominant(scores)
    pres = lab.presence(scores, 0)
    assert np.all(dom <= pres)  # a dominant emotion is present
    nonzero = scores.max(axis=1) > 0
    assert np.all(dom[nonzero].sum(axis=1) >= 1)
    np.testing.assert_array_equal(lab.with_neutral(dom)[:, 6], ~nonzero)
    np.testing.assert_array_equal(lab.with_neutral(pres)[:, 6], ~nonzero)
    # each dominant column holds the row's maximum
    row_max = scores.max(axis=1, keepdims=True)
    np.testing.assert_array_equal(dom.astype(bool), (scores == row_max) & nonzero[:, None])


# ----------------------------------------------------- the original's 12-level grid (issue 9, item 7)
def test_the_original_grid_and_ours_are_the_same_levels():
    from mmer_tf.data.labels import ORIGINAL_SCORES, OBSERVED_SCORES, level_index

    assert level_index(ORIGINAL_SCORES).tolist() == list(range(12))
    assert level_index(OBSERVED_SCORES).tolist() == list(range(12))
    assert level_index(np.array([0.24, 0.26, 2.9])).tolist() == [1, 2, 11]


@pytest.mark.parametrize("label_type", ["all", "coarse"])
def test_level_metrics_are_identical_on_the_original_grid_and_on_ours(label_type):
    """Truth and predictions written with the original's two decimals (0.16, 0.33, 0.66, ...) or as
    exact thirds score the same in every level family, with -tp typed either way."""
    from mmer_tf import metrics
    from mmer_tf.data.labels import ORIGINAL_SCORES, OBSERVED_SCORES

    rng = np.random.default_rng(9)
    truth_levels, pred_levels = rng.integers(0, 12, size=(2, 240, 6))

    def evaluate(grid, thresholds):
        labels7 = np.concatenate([np.zeros((240, 1)), grid[truth_levels]], axis=1)
        return metrics.evaluate(labels7, grid[pred_levels].astype(np.float32), label_type=label_type,
                                thresholds=thresholds, neutral=True, decimals=None)

    original = evaluate(ORIGINAL_SCORES, (0.0, 0.16, 0.33, 0.5, 0.66, 1.33, 2.66))
    ours = evaluate(OBSERVED_SCORES, (0.0, 1 / 6, 0.3333, 0.5, 0.667, 4 / 3, 8 / 3))
    for family in ("classification_score_coarse", "classification_presence", "classification_dominant"):
        for a, b in zip(original[family], ours[family], strict=True):
            for key in a:
                if key == "threshold":
                    continue
                assert a[key] == pytest.approx(b[key], nan_ok=True), (family, a.get("threshold"), key)
    presence = original["classification_presence"]
    assert presence[2]["f1_macro"] != presence[3]["f1_macro"]  # the thresholds do select different levels
