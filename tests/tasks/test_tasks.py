"""Task modules: MMSA-exact sentiment metrics, categorical metrics against scikit-learn, the task registry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from mmer_tf import tasks
from mmer_tf.config import ExperimentConfig
from mmer_tf.data.segments import LABEL_NAMES
from mmer_tf.errors import MmerError
from mmer_tf.metrics.category import category_metrics, column_name
from mmer_tf.metrics.sentiment import sdk_classes, sentiment_metrics


def mmsa_oracle(pred, truth):
    """MMSA's regression evaluation for MOSI/MOSEI, re-derived from its definitions with scikit-learn.

    has0: split at >= 0; non0: drop zero truths, split at > 0; weighted F1; acc_5 / acc_7 clip to
    +-2 / +-3 then compare np.round; MAE unclipped; Pearson corr.
    """
    pred = np.asarray(pred, np.float32)
    truth = np.asarray(truth, np.float32)
    non_zeros = np.array([i for i, e in enumerate(truth) if e != 0], dtype=int)
    out = {
        "has0_acc_2": accuracy_score(pred >= 0, truth >= 0),
        "has0_f1": f1_score(truth >= 0, pred >= 0, average="weighted", zero_division=0),
        "acc_5": np.sum(np.round(np.clip(pred, -2., 2.)) == np.round(np.clip(truth, -2., 2.))) / float(len(truth)),
        "acc_7": np.sum(np.round(np.clip(pred, -3., 3.)) == np.round(np.clip(truth, -3., 3.))) / float(len(truth)),
        "mae": np.mean(np.absolute(pred - truth)).astype(np.float64),
    }
    if len(non_zeros):
        out["non0_acc_2"] = accuracy_score(pred[non_zeros] > 0, truth[non_zeros] > 0)
        out["non0_f1"] = f1_score(truth[non_zeros] > 0, pred[non_zeros] > 0, average="weighted", zero_division=0)
    return out


def sdk_round_oracle(a):
    """The CMU SDK README's cmumosei_round, written as its if-chain."""
    if a < -2:
        return -3
    if -2 <= a < -1:
        return -2
    if -1 <= a < 0:
        return -1
    if a == 0:
        return 0
    if 0 < a <= 1:
        return 1
    if 1 < a <= 2:
        return 2
    return 3


# values with many ties at 0, exact halves and grid points, plus arbitrary floats
_values = st.one_of(st.sampled_from([0.0, 0.5, -0.5, 1.5, -2.5, 2.5, 3.0, -3.0, 1 / 3, -1 / 3, 2.0, -1.0]),
                    st.floats(-4, 4, allow_nan=False, width=32))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_values, _values), min_size=2, max_size=40))
def test_sentiment_metrics_equal_the_mmsa_oracle(pairs):
    truth = np.array([t for t, _ in pairs], np.float32)
    pred = np.array([p for _, p in pairs], np.float32)
    ours = sentiment_metrics(truth, pred)
    oracle = mmsa_oracle(pred, truth)
    for key, value in oracle.items():
        # MMSA averages the absolute errors in float32; ours in float64 (equal to ~1e-7 relative)
        tolerance = dict(rel=1e-6) if key == "mae" else dict(abs=1e-12)
        assert ours[key] == pytest.approx(value, **tolerance), key
    if not (truth != 0).any():
        assert np.isnan(ours["non0_acc_2"]) and np.isnan(ours["non0_f1"])
    assert ours["acc_7_sdk"] == pytest.approx(
        np.mean([sdk_round_oracle(float(p)) == sdk_round_oracle(float(t)) for p, t in zip(pred, truth)]))
    if np.std(truth) > 0 and np.std(pred) > 0:
        assert ours["corr"] == pytest.approx(np.corrcoef(pred.astype(np.float64), truth.astype(np.float64))[0][1], abs=1e-9)


def test_sentiment_golden_values_by_hand():
    truth = np.array([0.0, 0.0, 1.0, -1.0, 2.5, -0.5])
    pred = np.array([0.2, -0.2, 0.5, -1.4, 2.5, 0.5])
    row = sentiment_metrics(truth, pred)
    # has0: truth >= 0 -> T T T F T F ; pred >= 0 -> T F T F T T : 4/6 right
    assert row["has0_acc_2"] == pytest.approx(4 / 6)
    # non0 drops the two zero truths: truth > 0 -> T F T F ; pred > 0 -> T F T T : 3/4
    assert row["non0_acc_2"] == pytest.approx(3 / 4)
    # acc_7: round(truth) = 0 0 1 -1 2 -0 ; round(pred) = 0 -0 0 -1 2 0 (halves to even) -> 5/6
    assert row["acc_7"] == pytest.approx(5 / 6)
    assert row["mae"] == pytest.approx(np.mean([0.2, 0.2, 0.5, 0.4, 0.0, 1.0]))
    # 0.333 is class 0 under MMSA's rounding but class 1 under the SDK's step binning
    assert sentiment_metrics(np.array([0.333, 0.0]), np.array([0.0, 0.0]))["acc_7"] == 1.0
    assert sentiment_metrics(np.array([0.333, 0.0]), np.array([0.0, 0.0]))["acc_7_sdk"] == 0.5
    assert list(sdk_classes(np.array([-2.5, -2, -1.5, -1, -0.1, 0, 0.1, 1, 1.5, 2, 2.1]))) == \
        [-3, -2, -2, -1, -1, 0, 1, 1, 2, 2, 3]


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 6).flatmap(lambda k: st.tuples(
    st.just(k), st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=50))))
def test_category_metrics_equal_scikit_learn(case):
    k, pairs = case
    true = np.array([t for t, _ in pairs])
    pred = np.array([p for _, p in pairs])
    classes = [f"c{i}" for i in range(k)]
    row = category_metrics(true, pred, classes)
    assert row["acc"] == pytest.approx(accuracy_score(true, pred))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert row["balanced_acc"] == pytest.approx(balanced_accuracy_score(true, pred))
    for average in ("macro", "weighted", "micro"):
        assert row[f"f1_{average}"] == pytest.approx(f1_score(true, pred, average=average, zero_division=0))
    per_class = f1_score(true, pred, labels=range(k), average=None, zero_division=0)
    seen = set(true) | set(pred)
    for index in range(k):
        if index in seen:
            assert row[f"f1_c{index}"] == pytest.approx(per_class[index])
        else:
            assert np.isnan(row[f"f1_c{index}"])


def test_category_column_names_are_safe():
    assert column_name("Angry / Hot") == "angry_hot" and column_name("neutral") == "neutral"


def test_registry_maps_label_types_and_refuses_unsupported_pairs():
    assert tasks.for_label_type("dominant").name == "emotions"
    assert tasks.for_label_type("sentiment").name == "sentiment"
    assert tasks.for_label_type("category").name == "category"
    assert tasks.supported_tasks(LABEL_NAMES) == ("emotions", "sentiment")
    assert tasks.supported_tasks(("sentiment",)) == ("sentiment",)
    assert tasks.supported_tasks(("category",), ("a", "b")) == ("category",)
    with pytest.raises(MmerError, match=r"corpus meld has no labels for task sentiment .*-lt category"):
        tasks.check_supported("sentiment", tasks.LabelSchema(("category",), ("a", "b")), "meld")
    with pytest.raises(MmerError, match="-lt/--label_type: unknown"):
        tasks.for_label_type("nope")


def test_category_targets_baseline_and_heads():
    task = tasks.for_label_type("category")
    schema = tasks.LabelSchema(("category",), ("calm", "happy", "sad"))
    config = ExperimentConfig(label_type="category")
    labels = np.array([[0], [2], [2], [1]], np.float32)
    assert task.default_activation(config) == "softmax" and task.output_kind(config) == "classes"
    assert task.num_outputs(config, schema) == 3
    np.testing.assert_array_equal(task.targets(config, labels, schema),
                                  np.eye(3, dtype=np.float32)[[0, 2, 2, 1]])
    baseline = task.baseline(config, labels, 2, schema)
    assert baseline.shape == (2, 3) and (baseline.argmax(axis=1) == 2).all()  # the majority class
    rows = task.evaluate(config.replace(round_decimals=4), labels, np.eye(3)[[0, 2, 1, 1]], schema)
    assert list(rows) == ["classification_category"] and rows["classification_category"][0]["acc"] == 0.75
    with pytest.raises(MmerError, match="class indices 0..2"):
        task.targets(config, np.array([[3.0]]), schema)


def test_sentiment_targets_refuse_out_of_range_and_missing():
    task = tasks.for_label_type("sentiment")
    schema = tasks.LabelSchema(("sentiment",))
    config = ExperimentConfig(label_type="sentiment")
    assert task.default_activation(config) == "linear" and task.num_outputs(config, schema) == 1
    with pytest.raises(MmerError, match=r"\[-3, 3\]"):
        task.targets(config, np.array([[3.5]]), schema)
    with pytest.raises(MmerError, match="no sentiment label"):
        task.targets(config, np.array([[np.nan]]), schema)
