"""What every task's metrics share: per-column counts, ratios that are NaN (not a warning) where
undefined, the support-weighted binary F1, the prediction-matrix check and row rounding.

The undefined-value policy is an argument, as scikit-learn's ``zero_division``: :func:`weighted_binary_f1`
takes ``zero_division`` (``nan``: a class absent from truth and predictions is left out of the average,
the emotion families' choice; ``0.0``: it counts as 0, scikit-learn's default and MMSA's for sentiment).
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from mmer_tf.errors import MmerError


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise ``numerator / denominator`` with NaN (not a warning) where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _nanmean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN; NaN (no warning) where every entry is NaN."""
    values = np.asarray(values, dtype=np.float64)
    defined = ~np.isnan(values)
    return _ratio(np.where(defined, values, 0.0).sum(axis=axis), defined.sum(axis=axis))


def _weighted_nanmean(values: np.ndarray, weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """Support-weighted mean over ``axis`` of the defined (non-NaN) entries; NaN when they weigh 0."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.where(np.isnan(values), 0.0, np.asarray(weights, dtype=np.float64))
    return _ratio((np.nan_to_num(values) * weights).sum(axis=axis), weights.sum(axis=axis))


def binary_counts(true: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column ``tp``, ``fp``, ``fn``, ``tn`` (int64 ``[C]``) of multi-hot ``[N, C]`` arrays."""
    true = np.asarray(true).astype(bool)
    pred = np.asarray(pred).astype(bool)
    if true.shape != pred.shape or true.ndim != 2:
        raise ValueError(f"true and pred must be equal [N, C] arrays, got {true.shape} and {pred.shape}")
    tp = np.count_nonzero(true & pred, axis=0)
    fp = np.count_nonzero(~true & pred, axis=0)
    fn = np.count_nonzero(true & ~pred, axis=0)
    tn = true.shape[0] - tp - fp - fn
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def weighted_binary_f1(true: np.ndarray, pred: np.ndarray, *, zero_division: float = math.nan):
    """F1 of the present and absent classes, weighted by their support: scikit-learn's
    ``f1_score(t, p, average="weighted", zero_division=zero_division)`` of each binary column.

    ``[N, C]`` multi-hot arrays give one value per column (the "F1" the CMU-MOSEI emotion papers report next
    to WA); ``[N]`` arrays give a float (MMSA's binary sentiment F1). A class absent from both truth and
    predictions has an undefined F1, replaced by ``zero_division`` (NaN: left out of the average); with no
    rows at all the result is NaN.
    """
    true, pred = np.asarray(true).astype(bool), np.asarray(pred).astype(bool)
    single = true.ndim == 1
    if single:
        true, pred = true[:, np.newaxis], pred[:, np.newaxis]
    c = binary_counts(true, pred)
    f1_present = _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])
    f1_absent = _ratio(2 * c["tn"], 2 * c["tn"] + c["fn"] + c["fp"])
    values = np.stack([f1_present, f1_absent], axis=-1)
    if not math.isnan(zero_division):
        values = np.where(np.isnan(values), float(zero_division), values)
    support = np.stack([c["tp"] + c["fn"], c["tn"] + c["fp"]], axis=-1)
    out = _weighted_nanmean(values, support)
    return float(out[0]) if single else out


def check_prediction_matrix(predictions: np.ndarray, n: int, width: int, what: str) -> np.ndarray:
    """``predictions`` as float64 ``[n, width]``; NaN/inf (a diverged model) is a one-line user error.

    ``what`` names the outputs in the shape error (e.g. ``-lt dominant (neutral=True)`` or a task name).
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.shape != (n, width):
        raise ValueError(f"predictions for {what} must be [{n}, {width}], got {predictions.shape}")
    bad = int(np.count_nonzero(~np.isfinite(predictions)))
    if bad:
        raise MmerError(
            f"model predictions contain {bad} NaN/infinite values: training diverged (try a lower -lr/--learning_rate)"
        )
    return predictions


def round_row(row: Mapping[str, float], decimals: int | None) -> dict[str, float]:
    """A table row with its numbers rounded to ``decimals`` (``None``: exact); NaN and text kept as they are."""
    if decimals is None:
        return dict(row)
    return {k: (v if isinstance(v, str) or np.isnan(v) else round(float(v), decimals)) for k, v in row.items()}


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two ``[N]`` arrays; NaN with fewer than two rows or a constant one."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size < 2:
        return float("nan")
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")
