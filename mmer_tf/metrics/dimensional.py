"""Dimensional emotion metrics (valence / activation / dominance): MAE, Pearson and Lin's concordance
correlation coefficient per dimension, and their means (the ``dimensional.csv`` row)."""

from __future__ import annotations

import numpy as np

from mmer_tf.metrics.common import pearson


def ccc(truth: np.ndarray, pred: np.ndarray) -> float:
    """Lin's concordance correlation coefficient (population moments); NaN when both are constant."""
    truth = np.asarray(truth, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if truth.size == 0:
        return float("nan")
    mt, mp = truth.mean(), pred.mean()
    denominator = truth.var() + pred.var() + (mt - mp) ** 2
    return float(2.0 * np.mean((truth - mt) * (pred - mp)) / denominator) if denominator > 0 else float("nan")


def dimensional_metrics(truth: np.ndarray, pred: np.ndarray, names) -> dict[str, float]:
    """The ``dimensional.csv`` row for ``[N, D]`` truths and predictions of the dimensions ``names``."""
    row: dict[str, float] = {}
    for k, dim in enumerate(names):
        t, p = truth[:, k], pred[:, k]
        row[f"{dim}_mae"] = float(np.mean(np.abs(p - t))) if t.size else float("nan")
        row[f"{dim}_pearson"] = pearson(t, p) if t.size > 1 else float("nan")
        row[f"{dim}_ccc"] = ccc(t, p)
    row["mae"] = float(np.mean([row[f"{d}_mae"] for d in names]))
    row["ccc"] = float(np.mean([row[f"{d}_ccc"] for d in names]))
    return row
