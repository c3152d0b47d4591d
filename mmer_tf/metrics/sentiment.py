"""MMSA's sentiment metrics for scores in [-3, 3] (the ``sentiment.csv`` row); see ``tasks/sentiment.py``
for what each column means. The binary F1 counts an undefined class F1 as 0 (MMSA's scikit-learn default).
"""

from __future__ import annotations

import numpy as np

from mmer_tf.metrics.common import pearson, weighted_binary_f1

COLUMNS = ("has0_acc_2", "has0_f1", "non0_acc_2", "non0_f1", "acc_5", "acc_7", "mae", "corr", "acc_7_sdk")
SENTIMENT_RANGE = 3.0


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
        "has0_f1": weighted_binary_f1(truth >= 0, pred >= 0, zero_division=0.0),
        "non0_acc_2": _accuracy(truth[nonzero] > 0, pred[nonzero] > 0),
        "non0_f1": weighted_binary_f1(truth[nonzero] > 0, pred[nonzero] > 0, zero_division=0.0),
        "acc_5": _accuracy(np.round(np.clip(truth, -2, 2)), np.round(np.clip(pred, -2, 2))),
        "acc_7": _accuracy(np.round(np.clip(truth, -3, 3)), np.round(np.clip(pred, -3, 3))),
        "mae": float(np.mean(np.abs(pred - truth))) if truth.size else float("nan"),
        "corr": pearson(truth, pred),
        "acc_7_sdk": _accuracy(sdk_classes(truth), sdk_classes(pred)),
    }
    return row
