"""CH-SIMS / CH-SIMS v2 sentiment metrics (``-lt sentiment --sentiment_scheme sims``), as MMSA defines them.

CH-SIMS labels are in [-1, 1], and MMSA evaluates SIMS with its own bins (``MetricsTop``'s SIMS
regression evaluation), which are not the CMU-MOSI ones; a SIMS row is comparable with published SIMS
tables only under these definitions. Truths and predictions are first clipped to [-1, 1], then:

``acc_2``   2 classes: [-1, 0] and (0, 1]
``acc_3``   3 classes: [-1, -0.1], (-0.1, 0.1], (0.1, 1]
``acc_5``   5 classes: [-1, -0.7], (-0.7, -0.1], (-0.1, 0.1], (0.1, 0.7], (0.7, 1]
``f1``      support-weighted F1 of the 2 classes (an undefined class F1 counts 0, as in MMSA)
``mae``     mean absolute error of the clipped values
``corr``    Pearson correlation of the clipped values

Every bin is closed on the right (a value exactly on an edge belongs to the lower bin), as MMSA's
``(edge_i, edge_i+1]`` masks make it. Undefined values (a constant column for ``corr``) are NaN.
"""

from __future__ import annotations

import numpy as np

from mmer_tf.metrics.common import pearson, weighted_binary_f1

COLUMNS = ("acc_2", "acc_3", "acc_5", "f1", "mae", "corr")
EDGES = {2: (0.0,), 3: (-0.1, 0.1), 5: (-0.7, -0.1, 0.1, 0.7)}


def bins(values: np.ndarray, classes: int) -> np.ndarray:
    """Class index of each (clipped) value: the number of inner edges strictly below it."""
    return np.searchsorted(np.asarray(EDGES[classes]), np.asarray(values, dtype=np.float64), side="left")


def sims_metrics(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The ``sentiment_sims.csv`` row for float truths and predictions ``[N]``."""
    truth = np.clip(np.asarray(truth, dtype=np.float64).reshape(-1), -1.0, 1.0)
    pred = np.clip(np.asarray(pred, dtype=np.float64).reshape(-1), -1.0, 1.0)
    if truth.shape != pred.shape:
        raise ValueError(f"truth {truth.shape} and predictions {pred.shape} differ in length")
    if truth.size == 0:
        return {c: float("nan") for c in COLUMNS}
    row = {f"acc_{k}": float(np.mean(bins(truth, k) == bins(pred, k))) for k in (2, 3, 5)}
    row["f1"] = weighted_binary_f1(bins(truth, 2) == 1, bins(pred, 2) == 1, zero_division=0.0)
    row["mae"] = float(np.mean(np.abs(pred - truth)))
    row["corr"] = pearson(truth, pred)
    return row
