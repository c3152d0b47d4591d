"""The CMU-MOSEI emotion metric families: truth labels + model outputs -> flat rows for the CSV tables.

:func:`evaluate` returns ``{family: [row, ...]}`` where each row is a flat ``{column: value}``:

``regression``                   MAE, MSE, R^2 of the raw outputs against the annotated scores, overall
                                 and per emotion (``mae``, ``mse_happy``, ``r2`` ...).
``classification_score_coarse``  per emotion a 4-class problem over the coarse scores {0, 1, 2, 3}
                                 (``acc_<emo>``; ``f1_<emo>``/``rec_<emo>``/``prec_<emo>`` macro over the
                                 four levels, ``*_weighted_<emo>`` support-weighted); the overall columns
                                 (``acc``, ``f1_macro``, ``f1_weighted`` ...) are the unweighted mean
                                 over the six emotions, as in the original suite.
``classification_presence``      one row per ``-tp`` threshold (``threshold`` column): multilabel
                                 subset accuracy (sklearn's ``accuracy_score`` on multilabel input: a
                                 row counts only if every class is right), macro/weighted and per-class
                                 F1/recall/precision, per-class binary accuracy, and CMU-MOSEI's
                                 literature metrics ``wa_<emo>`` (weighted accuracy, Tong et al. 2017:
                                 (TP*N/P + TN) / 2N) and ``wf1_<emo>`` (the support-weighted F1 of the
                                 present/absent classes, as the CMU-MOSEI papers report "F1").
``classification_dominant``      the same classification columns for the tied-maximum classes, plus
                                 ROC AUC (``roc_auc_macro``, ``roc_auc_weighted``, ``roc_auc_<emo>``)
                                 from the continuous outputs.

How outputs become classes depends on :func:`mmer_tf.data.labels.output_kind`:

* ``"scores"`` (trained on ``all``/``coarse``): the raw outputs go through exactly the truth's transforms
  (snap to the observed scores, then presence@t / dominant / neutral; coarse levels from the raw
  outputs). Regression uses the raw outputs unsnapped, so quantisation is not charged to the model. ROC
  AUC ranks by the raw score of each emotion and, for neutral, by minus the row's highest emotion score.
* ``"probabilities"`` (trained on ``present``/``dominant``; one sigmoid per class, neutral included
  when asked): presence is ``p >= 0.5`` (the same for every ``-tp`` row, only the truth changes with the
  threshold), dominant is the tied-maximum rule applied to the probabilities, ROC AUC ranks by the
  probabilities. ``regression`` and ``classification_score_coarse`` need scores and are *omitted* (the
  keys are absent from the result).

Undefined values are NaN (``zero_division=nan``, :mod:`mmer_tf.metrics.common`), never a warning or a
crash: precision of a class never predicted, recall of a
class absent from the truth, F1 of a class absent from both, ROC AUC / WA of a class with one label
only, R^2 of a constant truth column. Macro averages ignore NaN classes (sklearn's behaviour with
``zero_division=np.nan``); weighted averages weight the defined classes by their support and are NaN
when those classes have no support at all (where sklearn silently falls back to an unweighted mean).

Everything is vectorised NumPy (counts per class in one pass), so millions of rows are cheap;
scikit-learn is the oracle in ``tests/metrics/test_metrics.py``.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from mmer_tf.data import labels as lab
from mmer_tf.errors import MmerError
from mmer_tf.metrics.common import (_nanmean, _ratio, _weighted_nanmean, binary_counts,
                                     check_prediction_matrix, round_row, weighted_binary_f1)

FAMILIES: tuple[str, ...] = (
    "regression",
    "classification_score_coarse",
    "classification_presence",
    "classification_dominant",
)
_AVERAGED = ("f1", "rec", "prec")
PROBABILITY_CUTOFF = 0.5


# --------------------------------------------------------------------------------------------------
# metric primitives (each checked against scikit-learn in the tests)


def multilabel_confusion(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``[C, 2, 2]`` int64 confusion per class, sklearn's layout ``[[tn, fp], [fn, tp]]`` (for ``-scm``)."""
    c = binary_counts(true, pred)
    return np.stack([np.stack([c["tn"], c["fp"]], -1), np.stack([c["fn"], c["tp"]], -1)], -2).astype(np.int64)


def prf_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 (``2TP / (2TP + FP + FN)``) with NaN where undefined."""
    return {
        "prec": _ratio(tp, tp + fp),
        "rec": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def averaged_prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class and macro / weighted precision, recall, F1 over the last axis of the counts.

    Keys: ``f1``, ``rec``, ``prec`` (per class) and ``<m>_macro``, ``<m>_weighted``; the support of a
    class is ``tp + fn``. Leading axes (e.g. one per emotion) are kept.
    """
    per_class = prf_from_counts(tp, fp, fn)
    support = tp + fn
    out = dict(per_class)
    for name, values in per_class.items():
        out[f"{name}_macro"] = _nanmean(values)
        out[f"{name}_weighted"] = _weighted_nanmean(values, support)
    return out


def subset_accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    """Fraction of rows whose every class is right (sklearn ``accuracy_score`` on multilabel input)."""
    true = np.asarray(true).astype(bool)
    pred = np.asarray(pred).astype(bool)
    if true.shape[0] == 0:
        return float("nan")
    return float(np.mean(np.all(true == pred, axis=1)))


def weighted_accuracy(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-column weighted accuracy (Tong et al. 2017): ``(TP * N / P + TN) / (2 N)``.

    P and N are the truth's positives and negatives; it equals the mean of the true-positive and
    true-negative rates (balanced accuracy), NaN for a column with only one truth label.
    """
    c = binary_counts(true, pred)
    positives = c["tp"] + c["fn"]
    negatives = c["tn"] + c["fp"]
    return _ratio(_ratio(c["tp"] * negatives, positives) + c["tn"], 2 * negatives)


def roc_auc(true: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Per-column ROC AUC of multi-hot ``true`` ranked by continuous ``score`` ``[N, C]``.

    Computed as the Mann-Whitney statistic with mid-ranks for ties (identical to the trapezoidal ROC
    area sklearn reports); NaN for a column whose truth has a single label.
    """
    true = np.asarray(true).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    if true.shape != score.shape or true.ndim != 2:
        raise ValueError(f"true and score must be equal [N, C] arrays, got {true.shape} and {score.shape}")
    if true.shape[0] == 0:
        return np.full(true.shape[1], np.nan)
    from scipy.stats import rankdata  # scipy.stats costs ~1 s to import: only when a ROC AUC is computed

    ranks = rankdata(score, axis=0)
    positives = true.sum(axis=0)
    negatives = true.shape[0] - positives
    rank_sum = np.where(true, ranks, 0.0).sum(axis=0)
    return _ratio(rank_sum - positives * (positives + 1) / 2.0, positives * negatives)


def regression_errors(true: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column MAE, MSE and R^2 (``1 - SS_res / SS_tot``; NaN for a constant truth column)."""
    true = np.asarray(true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if true.shape != pred.shape or true.ndim != 2:
        raise ValueError(f"true and pred must be equal [N, C] arrays, got {true.shape} and {pred.shape}")
    residual = pred - true
    ss_res = np.square(residual).sum(axis=0)
    ss_tot = np.square(true - true.mean(axis=0)).sum(axis=0)
    return {
        "mae": np.abs(residual).mean(axis=0),
        "mse": np.square(residual).mean(axis=0),
        "r2": 1.0 - _ratio(ss_res, ss_tot),
    }


# --------------------------------------------------------------------------------------------------
# families


def regression_family(true_scores: np.ndarray, pred_scores: np.ndarray) -> dict[str, float]:
    """``mae``, ``mse``, ``r2`` (mean over emotions) then ``mae_<emo>``, ``mse_<emo>``, ``r2_<emo>``."""
    per = regression_errors(true_scores, pred_scores)
    row = {name: float(_nanmean(per[name])) for name in ("mae", "mse", "r2")}
    for name in ("mae", "mse", "r2"):
        row.update({f"{name}_{emo}": float(v) for emo, v in zip(lab.EMOTIONS, per[name])})
    return row


def coarse_family(true_coarse: np.ndarray, pred_coarse: np.ndarray) -> dict[str, float]:
    """Per emotion a 4-class classification of the coarse levels; overall = mean over emotions."""
    levels = lab.COARSE_SCORES
    true_coarse = np.asarray(true_coarse)
    pred_coarse = np.asarray(pred_coarse)
    true_hot = true_coarse[:, :, None] == levels  # [N, E, 4]
    pred_hot = pred_coarse[:, :, None] == levels
    tp = np.count_nonzero(true_hot & pred_hot, axis=0)  # [E, 4]
    fp = np.count_nonzero(~true_hot & pred_hot, axis=0)
    fn = np.count_nonzero(true_hot & ~pred_hot, axis=0)
    per_emotion = averaged_prf(tp, fp, fn)  # "<m>_macro" / "<m>_weighted": [E]
    accuracy = np.mean(true_coarse == pred_coarse, axis=0) if len(true_coarse) else np.full(len(lab.EMOTIONS), np.nan)
    row = {"acc": float(_nanmean(accuracy))}
    for name in _AVERAGED:
        for average in ("macro", "weighted"):
            row[f"{name}_{average}"] = float(_nanmean(per_emotion[f"{name}_{average}"]))
    row.update({f"acc_{emo}": float(v) for emo, v in zip(lab.EMOTIONS, accuracy)})
    for name in _AVERAGED:
        row.update({f"{name}_{emo}": float(v) for emo, v in zip(lab.EMOTIONS, per_emotion[f"{name}_macro"])})
    for name in _AVERAGED:
        row.update({f"{name}_weighted_{emo}": float(v) for emo, v in zip(lab.EMOTIONS, per_emotion[f"{name}_weighted"])})
    return row


def multilabel_family(true: np.ndarray, pred: np.ndarray, names: Iterable[str]) -> dict[str, float]:
    """Subset accuracy, macro/weighted F1/recall/precision, then per class ``acc``/``f1``/``rec``/``prec``."""
    names = tuple(names)
    c = binary_counts(true, pred)
    metrics = averaged_prf(c["tp"], c["fp"], c["fn"])
    row = {"acc": subset_accuracy(true, pred)}
    for name in _AVERAGED:
        for average in ("macro", "weighted"):
            row[f"{name}_{average}"] = float(metrics[f"{name}_{average}"])
    per_class = {"acc": _ratio(c["tp"] + c["tn"], np.asarray(true).shape[0]), **{n: metrics[n] for n in _AVERAGED}}
    for name, values in per_class.items():
        row.update({f"{name}_{cls}": float(v) for cls, v in zip(names, values)})
    return row


def presence_family(true: np.ndarray, pred: np.ndarray, names: Iterable[str], threshold: float) -> dict[str, float]:
    """One ``classification_presence`` row: ``threshold``, the multilabel columns, ``wa_*``, ``wf1_*``."""
    names = tuple(names)
    row = {"threshold": float(threshold), **multilabel_family(true, pred, names)}
    row.update({f"wa_{cls}": float(v) for cls, v in zip(names, weighted_accuracy(true, pred))})
    wf1 = weighted_binary_f1(true, pred, zero_division=np.nan)
    row.update({f"wf1_{cls}": float(v) for cls, v in zip(names, wf1)})
    return row


def dominant_family(true: np.ndarray, pred: np.ndarray, score: np.ndarray, names: Iterable[str]) -> dict[str, float]:
    """The ``classification_dominant`` row: the multilabel columns plus ROC AUC from ``score``."""
    names = tuple(names)
    row = multilabel_family(true, pred, names)
    auc = roc_auc(true, score)
    support = np.asarray(true).astype(bool).sum(axis=0)
    overall = {"roc_auc_macro": float(_nanmean(auc)), "roc_auc_weighted": float(_weighted_nanmean(auc, support))}
    head = {k: row.pop(k) for k in ("acc", "f1_macro", "f1_weighted", "rec_macro", "rec_weighted", "prec_macro", "prec_weighted")}
    out = {**head, **overall, **row}
    out.update({f"roc_auc_{cls}": float(v) for cls, v in zip(names, auc)})
    return out


def family_columns(family: str, neutral: bool = False) -> list[str]:
    """The exact column list :func:`evaluate` writes for ``family`` (what the CSV header will be)."""
    classes = lab.class_names(neutral)
    size = (4, len(classes))
    if family == "regression":
        return list(regression_family(np.zeros((4, 6)), np.zeros((4, 6))))
    if family == "classification_score_coarse":
        return list(coarse_family(np.zeros((4, 6)), np.zeros((4, 6))))
    if family == "classification_presence":
        return list(presence_family(np.zeros(size), np.zeros(size), classes, 0.0))
    if family == "classification_dominant":
        return list(dominant_family(np.zeros(size), np.zeros(size), np.zeros(size), classes))
    raise ValueError(f"unknown metric family {family!r}; expected one of {FAMILIES}")


# --------------------------------------------------------------------------------------------------
# predictions -> classes, and the entry point


def _tied_max(values: np.ndarray) -> np.ndarray:
    """Multi-hot int8 of the columns tied at each row's maximum, nothing where that maximum is <= 0."""
    row_max = values.max(axis=1, keepdims=True)
    return ((values == row_max) & (row_max > 0)).astype(np.int8)


def _check_predictions(predictions: np.ndarray, n: int, label_type: str, neutral: bool) -> np.ndarray:
    return check_prediction_matrix(predictions, n, lab.num_outputs(label_type, neutral),
                                   f"-lt {label_type} (neutral={neutral})")


def _finish(classes: np.ndarray, neutral: bool) -> np.ndarray:
    return lab.with_neutral(classes) if neutral else classes


def presence_classes(
    true_labels7: np.ndarray, predictions: np.ndarray, *, label_type: str, threshold: float = 0.0, neutral: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted presence multi-hot int8 ``[N, C]`` at ``threshold`` (what ``-scm`` counts).

    Score outputs are snapped and thresholded exactly like the truth; probability outputs are
    ``p >= 0.5`` whatever the threshold (the threshold then only moves the truth).
    """
    threshold = lab.check_threshold(threshold)
    true_all = lab.scores_all(lab.emotion_scores(true_labels7))
    predictions = _check_predictions(predictions, len(true_all), label_type, neutral)
    true = _finish(lab.presence(true_all, threshold), neutral)
    if lab.output_kind(label_type) == "scores":
        return true, _finish(lab.presence(lab.scores_all(predictions), threshold), neutral)
    return true, (predictions >= PROBABILITY_CUTOFF).astype(np.int8)


def dominant_classes(
    true_labels7: np.ndarray, predictions: np.ndarray, *, label_type: str, neutral: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and predicted dominant multi-hot int8 ``[N, C]``, and the continuous ranking score for ROC AUC.

    Scores: tied maximum of the snapped outputs; the ranking is the raw output of each emotion and, for
    neutral, minus the row's highest emotion output (the less any emotion is predicted, the more
    neutral). Probabilities: tied maximum of the probabilities (neutral column included), ranked by them.
    """
    true_all = lab.scores_all(lab.emotion_scores(true_labels7))
    predictions = _check_predictions(predictions, len(true_all), label_type, neutral)
    true = _finish(lab.dominant(true_all), neutral)
    if lab.output_kind(label_type) == "probabilities":
        return true, _tied_max(predictions), predictions
    pred = _finish(lab.dominant(lab.scores_all(predictions)), neutral)
    score = predictions
    if neutral:
        score = np.concatenate([predictions, -predictions.max(axis=1, keepdims=True)], axis=1)
    return true, pred, score


def evaluate(
    true_labels7: np.ndarray,
    predictions: np.ndarray,
    *,
    label_type: str,
    thresholds: Iterable[float] = (0.0,),
    neutral: bool = False,
    decimals: int | None = 3,
) -> dict[str, list[dict[str, float]]]:
    """Every metric family for one test set, as ``{family: [row, ...]}`` ready for the CSV tables.

    ``true_labels7`` are the ``[N, 7]`` CMU-MOSEI labels, ``predictions`` the model outputs
    ``[N, num_outputs(label_type, neutral)]``. Values are rounded to ``decimals`` (``None``: exact).
    See the module docstring for how predictions become scores/classes and which families a
    probability model gets (``regression`` and ``classification_score_coarse`` only for scores).
    """
    thresholds = tuple(lab.check_threshold(t) for t in thresholds)
    if not thresholds:
        raise MmerError("-tp/--threshold_emo_present: at least one presence threshold is needed")
    true_scores = lab.emotion_scores(true_labels7).astype(np.float64)
    predictions = _check_predictions(predictions, len(true_scores), label_type, neutral)
    names = lab.class_names(neutral)
    views = dict(label_type=label_type, neutral=neutral)

    results: dict[str, list[dict[str, float]]] = {}
    if lab.output_kind(label_type) == "scores":
        results["regression"] = [regression_family(true_scores, predictions)]
        results["classification_score_coarse"] = [
            coarse_family(lab.scores_coarse(true_scores), lab.scores_coarse(predictions))
        ]
    results["classification_presence"] = [
        presence_family(*presence_classes(true_labels7, predictions, threshold=t, **views), names, t)
        for t in thresholds
    ]
    results["classification_dominant"] = [
        dominant_family(*dominant_classes(true_labels7, predictions, **views), names)
    ]
    return {family: [round_row(r, decimals) for r in rows] for family, rows in results.items()}
