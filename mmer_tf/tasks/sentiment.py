"""Sentiment intensity regression in [-3, 3] (``-lt sentiment``) with MMSA-comparable metrics.

The columns of ``sentiment.csv`` are defined exactly as MMSA's regression evaluation on CMU-MOSI /
CMU-MOSEI (``MetricsTop``), the tables most of the field compares against, so a row here can be put next
to a published one:

``has0_acc_2``, ``has0_f1``   negative vs non-negative: truth and prediction split at ``>= 0``
``non0_acc_2``, ``non0_f1``   zero truths dropped, then split at ``> 0`` (the "post-2019" binary measure)
``acc_5``, ``acc_7``          clip both to [-2, 2] / [-3, 3], then compare ``np.round`` (half to even)
``mae``                       mean absolute error of the *unclipped* values (averaged in float64; MMSA
                              averages in float32, which differs in the 7th significant digit)
``corr``                      Pearson correlation

F1 is the support-weighted F1 of the two classes (scikit-learn's ``average="weighted"`` with its default
of 0 for an undefined F1). ``acc_7_sdk`` is the CMU SDK README's step-binned 7-class accuracy, where
intervals are closed towards zero: 0.333 is class 1 there but class 0 under MMSA's rounding; papers
differ on which one they report. Undefined values (no non-zero truth; a constant column for ``corr``)
are NaN.

``--sentiment_scheme sims`` writes ``sentiment_sims.csv`` instead: CH-SIMS's labels in [-1, 1] under
MMSA's SIMS definitions (``acc_2``, ``acc_3``, ``acc_5`` with its own bins, ``f1``, ``mae``, ``corr``;
:mod:`mmer_tf.tasks.sentiment_sims`); labels outside [-1, 1] are refused there.
"""

from __future__ import annotations

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.metrics import check_prediction_matrix, round_row
from mmer_tf.tasks.base import LabelSchema, Table, Task

COLUMNS = ("has0_acc_2", "has0_f1", "non0_acc_2", "non0_f1", "acc_5", "acc_7", "mae", "corr", "acc_7_sdk")
SENTIMENT_RANGE = 3.0


def weighted_binary_f1(true: np.ndarray, pred: np.ndarray) -> float:
    """Support-weighted F1 over the classes {False, True} (scikit-learn's weighted F1, zero_division=0)."""
    true = np.asarray(true, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    if true.size == 0:
        return float("nan")
    total = 0.0
    for positive in (False, True):
        t, p = true == positive, pred == positive
        tp = np.count_nonzero(t & p)
        denominator = np.count_nonzero(t) + np.count_nonzero(p)
        f1 = 2.0 * tp / denominator if denominator else 0.0
        total += f1 * np.count_nonzero(t)
    return total / true.size


def _accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(true == pred)) if true.size else float("nan")


def sdk_classes(values: np.ndarray) -> np.ndarray:
    """The CMU SDK README's 7 sentiment classes, intervals closed towards zero.

    a < -2 -> -3, [-2, -1) -> -2, [-1, 0) -> -1, 0 -> 0, (0, 1] -> 1, (1, 2] -> 2, a > 2 -> 3.
    """
    values = np.asarray(values, dtype=np.float64)
    below = np.select([values < -2, values < -1, values < 0], [-3.0, -2.0, -1.0], default=0.0)
    above = np.select([values > 2, values > 1, values > 0], [3.0, 2.0, 1.0], default=0.0)
    return np.where(values < 0, below, above)


def sentiment_metrics(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The ``sentiment.csv`` row for float truths and predictions ``[N]`` (see the module docstring)."""
    truth = np.asarray(truth, dtype=np.float64).reshape(-1)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    if truth.shape != pred.shape:
        raise ValueError(f"truth {truth.shape} and predictions {pred.shape} differ in length")
    nonzero = truth != 0
    row = {
        "has0_acc_2": _accuracy(truth >= 0, pred >= 0),
        "has0_f1": weighted_binary_f1(truth >= 0, pred >= 0),
        "non0_acc_2": _accuracy(truth[nonzero] > 0, pred[nonzero] > 0),
        "non0_f1": weighted_binary_f1(truth[nonzero] > 0, pred[nonzero] > 0),
        "acc_5": _accuracy(np.round(np.clip(truth, -2, 2)), np.round(np.clip(pred, -2, 2))),
        "acc_7": _accuracy(np.round(np.clip(truth, -3, 3)), np.round(np.clip(pred, -3, 3))),
        "mae": float(np.mean(np.abs(pred - truth))) if truth.size else float("nan"),
        "corr": _pearson(truth, pred),
        "acc_7_sdk": _accuracy(sdk_classes(truth), sdk_classes(pred)),
    }
    return row


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2:
        return float("nan")
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


class SentimentTask(Task):
    name = "sentiment"
    summary = "sentiment: sentiment score regression in [-3, 3] (MMSA's metrics)"
    label_types = ("sentiment",)
    all_tables = (Table("sentiment", "sentiment", "mae"), Table("sentiment_sims", "sentiment_sims", "mae"))
    output_kind_default = "scores"

    def supports(self, schema: LabelSchema) -> bool:
        return "sentiment" in schema.label_names

    def num_outputs(self, config, schema) -> int:
        return 1

    def targets(self, config, labels, schema):
        scores = schema.column(labels, "sentiment")
        if np.isnan(scores).any():
            raise MmerError(f"{int(np.isnan(scores).sum())} segments have no sentiment label")
        if np.abs(scores).max(initial=0.0) > SENTIMENT_RANGE:
            raise MmerError(f"sentiment labels must lie in [-3, 3], found {scores[np.abs(scores) > 3][0]:g}")
        if _sims(config) and np.abs(scores).max(initial=0.0) > 1.0:
            raise MmerError(f"--sentiment_scheme sims: CH-SIMS labels lie in [-1, 1], found "
                            f"{scores[np.abs(scores) > 1][0]:g} (use --sentiment_scheme mosi for [-3, 3] scores)")
        return scores.astype(np.float32).reshape(-1, 1)

    def evaluate(self, config, labels, predictions, schema):
        truth = self.targets(config, labels, schema)[:, 0]
        predictions = check_prediction_matrix(predictions, len(truth), 1, f"task {self.name}")
        if _sims(config):
            from mmer_tf.tasks.sentiment_sims import sims_metrics

            return {"sentiment_sims": [round_row(sims_metrics(truth, predictions[:, 0]), config.round_decimals)]}
        return {"sentiment": [round_row(sentiment_metrics(truth, predictions[:, 0]), config.round_decimals)]}

    def tables(self, config) -> tuple[str, ...]:
        return ("sentiment_sims",) if _sims(config) else ("sentiment",)

    def headline(self):
        return ("has0_acc_2", "non0_acc_2", "non0_f1", "acc_7", "acc_2", "acc_3", "acc_5", "mae", "corr")


def _sims(config) -> bool:
    scheme = getattr(config, "sentiment_scheme", "mosi")
    if scheme not in ("mosi", "sims"):
        raise MmerError(f"--sentiment_scheme {scheme!r}: expected mosi or sims")
    return scheme == "sims"


TASK = SentimentTask()
