"""Metric families: scikit-learn as the oracle on random inputs (ties, absent classes), golden values,
exact column sets, rounding, and the no-warning / NaN contract for undefined values."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from mmer_tf import metrics as M
from mmer_tf.data import labels as lab
from mmer_tf.errors import MmerError

EMO = lab.EMOTIONS
SEEDS = st.integers(0, 2**32 - 1)


# ------------------------------------------------------------------------------------------------
# random inputs with ties and absent classes


def random_labels7(rng, n):
    """[n, 7] CMU-MOSEI-like labels: mostly-zero observed scores, sometimes a column never present."""
    scores = rng.choice(lab.OBSERVED_SCORES, size=(n, 6), p=[0.55] + [0.45 / 11] * 11)
    if rng.random() < 0.5:
        scores[:, rng.integers(6)] = 0.0  # an emotion absent from the truth
    if rng.random() < 0.3:
        scores[rng.random(n) < 0.3] = 0.0  # extra all-zero (neutral) rows
    sentiment = rng.uniform(-3, 3, size=(n, 1))
    return np.concatenate([sentiment, scores], axis=1).astype(np.float32)


def random_score_predictions(rng, labels7):
    """Raw regression outputs: noisy truth, exact copies (ties with truth), and out-of-range values."""
    truth = labels7[:, 1:].astype(np.float64)
    pred = truth + rng.normal(0, rng.choice([0.1, 0.6, 1.5]), size=truth.shape)
    copy = rng.random(truth.shape) < 0.3
    pred[copy] = truth[copy]
    if rng.random() < 0.3:
        pred[:, rng.integers(6)] = 0.0  # an emotion never predicted
    return np.clip(pred, -0.5, 3.5)


def random_probabilities(rng, n, width):
    """Sigmoid-like outputs rounded to one decimal, so 0.5 cut-offs, argmax ties and rank ties occur."""
    return np.round(rng.random((n, width)), 1)


# ------------------------------------------------------------------------------------------------
# scikit-learn oracles


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def sk_prf_row(true, pred, labels=None):
    """Per-class, macro and weighted P/R/F1 from sklearn with zero_division=nan.

    The one documented difference: where the classes with a defined value all have zero support,
    sklearn falls back to an unweighted mean and we report NaN.
    """
    out = {}
    fns = {"f1": skm.f1_score, "rec": skm.recall_score, "prec": skm.precision_score}
    kw = {"zero_division": np.nan, "labels": labels}
    if true.ndim == 2:
        support = true.sum(axis=0)
    else:
        support = np.array([np.sum(true == k) for k in labels])
    for name, fn in fns.items():
        per = np.asarray(quiet(fn, true, pred, average=None, **kw), dtype=float)
        out[name] = per
        out[f"{name}_macro"] = quiet(fn, true, pred, average="macro", **kw)
        weighted = quiet(fn, true, pred, average="weighted", **kw)
        defined_support = support[~np.isnan(per)].sum()
        out[f"{name}_weighted"] = weighted if defined_support > 0 else np.nan
    return out


def sk_multilabel(true, pred, names):
    row = {"acc": skm.accuracy_score(true, pred)}
    prf = sk_prf_row(true, pred, labels=list(range(true.shape[1])))
    for name in ("f1", "rec", "prec"):
        row[f"{name}_macro"] = prf[f"{name}_macro"]
        row[f"{name}_weighted"] = prf[f"{name}_weighted"]
    for c, cls in enumerate(names):
        row[f"acc_{cls}"] = skm.accuracy_score(true[:, c], pred[:, c])
    for name in ("f1", "rec", "prec"):
        row.update({f"{name}_{cls}": prf[name][c] for c, cls in enumerate(names)})
    return row


def sk_presence(true, pred, names, threshold):
    row = {"threshold": threshold, **sk_multilabel(true, pred, names)}
    for c, cls in enumerate(names):
        both = len(np.unique(true[:, c])) == 2
        row[f"wa_{cls}"] = skm.balanced_accuracy_score(true[:, c], pred[:, c]) if both else np.nan
    for c, cls in enumerate(names):
        row[f"wf1_{cls}"] = quiet(skm.f1_score, true[:, c], pred[:, c], average="weighted", zero_division=np.nan)
    return row


def sk_dominant(true, pred, score, names):
    base = sk_multilabel(true, pred, names)
    defined = [c for c in range(true.shape[1]) if len(np.unique(true[:, c])) == 2]
    head = {k: base.pop(k) for k in ["acc", "f1_macro", "f1_weighted", "rec_macro", "rec_weighted", "prec_macro", "prec_weighted"]}
    if defined:
        auc = {
            "roc_auc_macro": skm.roc_auc_score(true[:, defined], score[:, defined], average="macro"),
            "roc_auc_weighted": skm.roc_auc_score(true[:, defined], score[:, defined], average="weighted"),
        }
    else:
        auc = {"roc_auc_macro": np.nan, "roc_auc_weighted": np.nan}
    row = {**head, **auc, **base}
    for c, cls in enumerate(names):
        row[f"roc_auc_{cls}"] = skm.roc_auc_score(true[:, c], score[:, c]) if c in defined else np.nan
    return row


def sk_regression(true, pred):
    per = {
        "mae": [skm.mean_absolute_error(true[:, e], pred[:, e]) for e in range(6)],
        "mse": [skm.mean_squared_error(true[:, e], pred[:, e]) for e in range(6)],
        # a constant truth column has no R^2: NaN (sklearn's default would force 1.0 or 0.0)
        "r2": [
            quiet(skm.r2_score, true[:, e], pred[:, e]) if np.ptp(true[:, e]) > 0 else np.nan for e in range(6)
        ],
    }
    row = {"mae": skm.mean_absolute_error(true, pred), "mse": skm.mean_squared_error(true, pred)}
    varying = np.ptp(true, axis=0) > 0
    row["r2"] = skm.r2_score(true[:, varying], pred[:, varying]) if varying.any() else np.nan
    for name in ("mae", "mse", "r2"):
        row.update({f"{name}_{emo}": per[name][e] for e, emo in enumerate(EMO)})
    return row


def sk_coarse(true, pred):
    per = {k: [] for k in ("acc", "f1", "rec", "prec", "f1_w", "rec_w", "prec_w")}
    for e in range(6):
        prf = sk_prf_row(true[:, e], pred[:, e], labels=[0.0, 1.0, 2.0, 3.0])
        per["acc"].append(skm.accuracy_score(true[:, e], pred[:, e]))
        for name in ("f1", "rec", "prec"):
            per[name].append(prf[f"{name}_macro"])
            per[f"{name}_w"].append(prf[f"{name}_weighted"])
    row = {"acc": np.mean(per["acc"])}
    for name in ("f1", "rec", "prec"):
        row[f"{name}_macro"] = np.nanmean(per[name]) if not np.all(np.isnan(per[name])) else np.nan
        row[f"{name}_weighted"] = np.nanmean(per[f"{name}_w"]) if not np.all(np.isnan(per[f"{name}_w"])) else np.nan
    row.update({f"acc_{emo}": per["acc"][e] for e, emo in enumerate(EMO)})
    for name in ("f1", "rec", "prec"):
        row.update({f"{name}_{emo}": per[name][e] for e, emo in enumerate(EMO)})
    for name in ("f1", "rec", "prec"):
        row.update({f"{name}_weighted_{emo}": per[f"{name}_w"][e] for e, emo in enumerate(EMO)})
    return row


def sk_evaluate(labels7, predictions, label_type, thresholds, neutral):
    """Independent reference pipeline: label transforms from labels.py, every metric from sklearn."""
    names = lab.class_names(neutral)
    finish = (lambda c: lab.with_neutral(c)) if neutral else (lambda c: c)
    true = labels7[:, 1:].astype(np.float64)
    true_all = lab.scores_all(true)
    true_dom = finish(lab.dominant(true_all))
    out = {}
    if lab.output_kind(label_type) == "scores":
        pred_all = lab.scores_all(predictions)
        out["regression"] = [sk_regression(true, predictions)]
        out["classification_score_coarse"] = [sk_coarse(lab.scores_coarse(true), lab.scores_coarse(predictions))]
        pred_pres = {t: finish(lab.presence(pred_all, t)) for t in thresholds}
        pred_dom = finish(lab.dominant(pred_all))
        score = np.concatenate([predictions, -predictions.max(axis=1, keepdims=True)], 1) if neutral else predictions
    else:
        pred_pres = {t: (predictions >= 0.5).astype(int) for t in thresholds}
        row_max = predictions.max(axis=1, keepdims=True)
        pred_dom = ((predictions == row_max) & (row_max > 0)).astype(int)
        score = predictions
    out["classification_presence"] = [
        sk_presence(finish(lab.presence(true_all, t)), pred_pres[t], names, t) for t in thresholds
    ]
    out["classification_dominant"] = [sk_dominant(true_dom, pred_dom, score, names)]
    return out


def assert_families_equal(got, expected):
    assert list(got) == list(expected)
    for family in expected:
        assert len(got[family]) == len(expected[family]), family
        for g, e in zip(got[family], expected[family]):
            assert list(g) == list(e), family
            keys = list(e)
            np.testing.assert_allclose(
                [g[k] for k in keys], [float(e[k]) for k in keys], rtol=1e-9, atol=1e-12, equal_nan=True,
                err_msg=f"{family}: {[k for k in keys if not np.isclose(g[k], e[k], equal_nan=True)]}",
            )


# ------------------------------------------------------------------------------------------------
# property tests: evaluate() == the sklearn pipeline, for every family


@pytest.mark.slow  # ~8 s in a not-slow run on the shared machine
@settings(max_examples=25, deadline=None)
@given(SEEDS, st.sampled_from(["all", "coarse"]), st.booleans())
def test_evaluate_scores_kind_agrees_with_sklearn(seed, label_type, neutral):
    rng = np.random.default_rng(seed)
    labels7 = random_labels7(rng, int(rng.integers(2, 40)))
    pred = random_score_predictions(rng, labels7)
    thresholds = (0.0, 1.0, float(rng.choice(lab.OBSERVED_SCORES)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our side: no warning floods
        got = M.evaluate(labels7, pred, label_type=label_type, thresholds=thresholds, neutral=neutral, decimals=None)
    assert_families_equal(got, sk_evaluate(labels7, pred, label_type, thresholds, neutral))


@settings(max_examples=25, deadline=None)
@given(SEEDS, st.sampled_from(["present", "dominant"]), st.booleans())
def test_evaluate_probability_kind_agrees_with_sklearn(seed, label_type, neutral):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    labels7 = random_labels7(rng, n)
    probs = random_probabilities(rng, n, lab.num_outputs(label_type, neutral))
    thresholds = (0.0, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = M.evaluate(labels7, probs, label_type=label_type, thresholds=thresholds, neutral=neutral, decimals=None)
    assert set(got) == {"classification_presence", "classification_dominant"}  # no scores -> omitted
    assert_families_equal(got, sk_evaluate(labels7, probs, label_type, thresholds, neutral))


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_primitives_agree_with_sklearn(seed):
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 30)), int(rng.integers(2, 8))  # c = 1 is binary, not multilabel, to sklearn
    true = (rng.random((n, c)) < rng.random(c)).astype(int)
    pred = (rng.random((n, c)) < rng.random(c)).astype(int)
    np.testing.assert_array_equal(M.multilabel_confusion(true, pred), skm.multilabel_confusion_matrix(true, pred))
    assert M.subset_accuracy(true, pred) == skm.accuracy_score(true, pred)
    score = np.round(rng.random((n, c)), 1)
    auc = M.roc_auc(true, score)
    for j in range(c):
        if len(np.unique(true[:, j])) == 2:
            assert auc[j] == pytest.approx(skm.roc_auc_score(true[:, j], score[:, j]), abs=1e-12)
        else:
            assert np.isnan(auc[j])


# ------------------------------------------------------------------------------------------------
# golden values


def test_weighted_accuracy_and_weighted_f1_golden():
    # one column: P = 4 positives, N = 6 negatives; TP = 3, TN = 4, FP = 2, FN = 1
    true = np.array([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0]]).T
    pred = np.array([[1, 1, 1, 0, 1, 1, 0, 0, 0, 0]]).T
    assert M.weighted_accuracy(true, pred)[0] == pytest.approx((3 * 6 / 4 + 4) / (2 * 6))
    f1_pos, f1_neg = 2 * 3 / (6 + 2 + 1), 2 * 4 / (8 + 1 + 2)
    assert M.weighted_binary_f1(true, pred)[0] == pytest.approx((4 * f1_pos + 6 * f1_neg) / 10)


def test_perfect_score_predictions_golden():
    rng = np.random.default_rng(3)
    labels7 = random_labels7(rng, 50)
    labels7[0, 1:] = [3, 0, 0, 0, 0, 0]
    labels7[1, 1:] = 0.0
    perfect = labels7[:, 1:].astype(np.float64)
    res = M.evaluate(labels7, perfect, label_type="all", thresholds=(0, 1), neutral=True)
    reg = res["regression"][0]
    assert reg["mae"] == reg["mse"] == 0.0
    assert reg["r2"] == 1.0
    for family in ("classification_score_coarse", "classification_presence", "classification_dominant"):
        for row in res[family]:
            assert row["acc"] == 1.0 and row["f1_weighted"] == 1.0
    # ROC AUC ranks by raw intensity, which dominance (a within-row property) need not follow exactly
    assert 0.5 < res["classification_dominant"][0]["roc_auc_macro"] <= 1.0
    assert [r["threshold"] for r in res["classification_presence"]] == [0.0, 1.0]


def test_small_hand_made_evaluation_golden():
    # two segments: happy 2 / sad 1 (dominant happy), and nothing at all (neutral)
    labels7 = np.array([[0.5, 2, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    # predictions: happy 1.9 and sad 1.9 (tie -> both dominant), second row 0.4 happy (present @0)
    pred = np.array([[1.9, 1.9, 0, 0, 0, 0], [0.4, 0, 0, 0, 0, 0]])
    res = M.evaluate(labels7, pred, label_type="all", thresholds=(0.0, 1.0), neutral=True, decimals=4)
    reg = res["regression"][0]
    assert reg["mae_happy"] == pytest.approx((0.1 + 0.4) / 2)
    assert reg["mae_sad"] == pytest.approx((0.9 + 0) / 2)
    assert reg["mse_happy"] == pytest.approx((0.01 + 0.16) / 2)
    assert np.isnan(reg["r2_anger"])  # constant truth column
    dom = res["classification_dominant"][0]
    assert dom["acc"] == 0.0  # row 1 predicts {happy, sad}, row 2 predicts happy instead of neutral
    assert dom["prec_happy"] == 0.5 and dom["rec_happy"] == 1.0
    assert np.isnan(dom["rec_anger"]) and np.isnan(dom["prec_anger"]) and np.isnan(dom["f1_anger"])
    assert dom["rec_neutral"] == 0.0 and np.isnan(dom["prec_neutral"])
    pres0, pres1 = res["classification_presence"]
    assert pres0["acc"] == 0.5 and pres0["acc_neutral"] == 0.5  # row 2: 0.4 snaps to 1/3 -> present
    assert pres1["acc"] == 1.0  # @1: {happy, sad} both sides; row 2: 1/3 < 1 -> neutral both sides
    coarse = res["classification_score_coarse"][0]
    assert coarse["acc_happy"] == 1.0  # 2 -> 2 and 0.4 -> 0


def test_probability_kind_cutoff_and_argmax_tie():
    labels7 = np.array([[0, 1, 1, 0, 0, 0, 0], [0, 0, 0, 2, 0, 0, 0]], dtype=np.float32)
    probs = np.array([[0.5, 0.5, 0.49, 0, 0, 0], [0.1, 0.3, 0.2, 0.2, 0.1, 0.1]])
    res = M.evaluate(labels7, probs, label_type="present", thresholds=(0.0,), decimals=None)
    pres = res["classification_presence"][0]
    assert pres["acc"] == 0.5  # row 1 exactly {happy, sad} at p >= 0.5; row 2 predicts nothing
    dom = res["classification_dominant"][0]
    assert dom["acc"] == 0.5  # row 1: happy & sad tie at 0.5 -> both; row 2: sad (0.3) is wrong
    assert dom["roc_auc_happy"] == 1.0


def test_dominant_probabilities_argmax_includes_neutral_column():
    labels7 = np.zeros((2, 7), dtype=np.float32)
    labels7[1, 2] = 1
    probs = np.array([[0.1, 0, 0, 0, 0, 0, 0.9], [0.1, 0.8, 0, 0, 0, 0, 0.2]])
    dom = M.evaluate(labels7, probs, label_type="dominant", neutral=True)["classification_dominant"][0]
    assert dom["acc"] == 1.0


# ------------------------------------------------------------------------------------------------
# columns, rounding, errors, baselines


def expected_columns(family, neutral):
    classes = lab.class_names(neutral)
    head = ["acc", "f1_macro", "f1_weighted", "rec_macro", "rec_weighted", "prec_macro", "prec_weighted"]

    def per(names, metrics):
        return [f"{m}_{c}" for m in metrics for c in names]

    if family == "regression":
        return ["mae", "mse", "r2"] + per(EMO, ["mae", "mse", "r2"])
    if family == "classification_score_coarse":
        return head + per(EMO, ["acc", "f1", "rec", "prec", "f1_weighted", "rec_weighted", "prec_weighted"])
    if family == "classification_presence":
        return ["threshold"] + head + per(classes, ["acc", "f1", "rec", "prec", "wa", "wf1"])
    return head + ["roc_auc_macro", "roc_auc_weighted"] + per(classes, ["acc", "f1", "rec", "prec", "roc_auc"])


@pytest.mark.parametrize("neutral", [False, True])
def test_column_sets_exactly_as_named(neutral):
    rng = np.random.default_rng(0)
    labels7 = random_labels7(rng, 20)
    res = M.evaluate(labels7, random_score_predictions(rng, labels7), label_type="all", thresholds=(0, 1), neutral=neutral)
    assert list(res) == list(M.FAMILIES)
    for family in M.FAMILIES:
        assert M.family_columns(family, neutral) == expected_columns(family, neutral)
        for row in res[family]:
            assert list(row) == expected_columns(family, neutral)
    assert "mse_happy" in res["regression"][0] and "roc_auc_fear" in res["classification_dominant"][0]


def test_decimals_round_every_value_and_keep_nan():
    rng = np.random.default_rng(1)
    labels7 = random_labels7(rng, 30)
    labels7[:, 3] = 0.0  # anger absent -> NaN recall/ROC AUC
    pred = random_score_predictions(rng, labels7)
    exact = M.evaluate(labels7, pred, label_type="coarse", thresholds=(0, 0.5), decimals=None)
    for decimals in (0, 2, 3):
        rounded = M.evaluate(labels7, pred, label_type="coarse", thresholds=(0, 0.5), decimals=decimals)
        for family, rows in exact.items():
            for e_row, r_row in zip(rows, rounded[family]):
                for k, v in e_row.items():
                    if np.isnan(v):
                        assert np.isnan(r_row[k])
                    else:
                        assert r_row[k] == round(v, decimals)
                        assert isinstance(r_row[k], float)
    assert np.isnan(exact["classification_dominant"][0]["roc_auc_anger"])


def test_undefined_everything_is_nan_without_warnings():
    labels7 = np.zeros((1, 7), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = M.evaluate(labels7, np.zeros((1, 6)), label_type="all", thresholds=(0, 3))
    assert np.isnan(res["regression"][0]["r2"])
    dom = res["classification_dominant"][0]
    assert dom["acc"] == 1.0  # nothing true, nothing predicted: the row is right
    assert np.isnan(dom["f1_macro"]) and np.isnan(dom["roc_auc_macro"])
    assert np.isnan(res["classification_presence"][0]["wa_happy"])
    assert res["classification_presence"][0]["wf1_happy"] == 1.0


def test_errors():
    labels7 = np.zeros((3, 7), dtype=np.float32)
    with pytest.raises(MmerError, match="-tp"):
        M.evaluate(labels7, np.zeros((3, 6)), label_type="all", thresholds=(4.0,))
    with pytest.raises(MmerError, match="-lt"):
        M.evaluate(labels7, np.zeros((3, 6)), label_type="bogus")
    with pytest.raises(MmerError, match="NaN"):
        M.evaluate(labels7, np.full((3, 6), np.nan), label_type="all")
    with pytest.raises(ValueError, match=r"\[3, 7\]"):
        M.evaluate(labels7, np.zeros((3, 6)), label_type="dominant", neutral=True)


@pytest.mark.parametrize("label_type", lab.LABEL_TYPES)
@pytest.mark.parametrize("neutral", [False, True])
def test_the_emotion_task_baseline_has_no_skill(label_type, neutral):
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.data.segments import LABEL_NAMES
    from mmer_tf.tasks import LabelSchema, emotions

    rng = np.random.default_rng(7)
    train, test = random_labels7(rng, 200), random_labels7(rng, 60)
    config = ExperimentConfig(label_type=label_type, predict_neutral_class=neutral)
    base = emotions.TASK.baseline(config, train, len(test), LabelSchema(LABEL_NAMES))
    targets = lab.make_targets(train, label_type, neutral)
    assert base.shape == (60, lab.num_outputs(label_type, neutral)) and base.dtype == np.float32
    np.testing.assert_allclose(base[0], targets.mean(axis=0), rtol=1e-6)
    assert np.all(base == base[0])
    res = M.evaluate(test, base, label_type=label_type, neutral=neutral)
    aucs = [v for k, v in res["classification_dominant"][0].items() if k.startswith("roc_auc_") and not np.isnan(v)]
    np.testing.assert_allclose(aucs, 0.5)  # a constant ranking has no skill
    if label_type == "all":  # the perfect prediction beats the mean predictor
        perfect = M.evaluate(test, test[:, 1:], label_type="all", neutral=neutral)
        assert perfect["regression"][0]["mae"] < res["regression"][0]["mae"]


def test_all_zero_probability_row_has_no_dominant_class():
    labels7 = np.zeros((2, 7), dtype=np.float32)
    labels7[1, 1] = 2.0  # happy
    probs = np.array([[0.0] * 6, [0.9, 0, 0, 0, 0, 0]])
    dom = M.evaluate(labels7, probs, label_type="dominant")["classification_dominant"][0]
    assert dom["acc"] == 1.0  # row 1: no class on either side (not "all six tied at 0")


@pytest.mark.parametrize("label_type", lab.LABEL_TYPES)
def test_presence_classes_match_the_presence_family_and_confusion(label_type):
    rng = np.random.default_rng(11)
    labels7 = random_labels7(rng, 40)
    width = lab.num_outputs(label_type, True)
    scores_kind = lab.output_kind(label_type) == "scores"
    pred = random_score_predictions(rng, labels7) if scores_kind else random_probabilities(rng, 40, width)
    true_cls, pred_cls = M.presence_classes(labels7, pred, label_type=label_type, threshold=1.0, neutral=True)
    assert true_cls.shape == pred_cls.shape == (40, 7)
    np.testing.assert_array_equal(true_cls, lab.with_neutral(lab.presence(labels7[:, 1:], 1.0)))
    cm = M.multilabel_confusion(true_cls, pred_cls)
    row = M.evaluate(labels7, pred, label_type=label_type, thresholds=(1.0,), neutral=True, decimals=None)
    row = row["classification_presence"][0]
    for c, cls in enumerate(lab.class_names(True)):
        (tn, fp), (fn, tp) = cm[c]
        assert row[f"acc_{cls}"] == pytest.approx((tp + tn) / 40)
