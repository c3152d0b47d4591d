"""``--class_weight balanced``: per-class loss weights ``n / (K * n_k)`` (scikit-learn's "balanced").

Applied as each training segment's sample weight (``targets @ weights``, so a mixup-blended target gets the
blend of its classes' weights). A class absent from the training fold gets weight 0 (it has no segment).
"""

from __future__ import annotations

import numpy as np

from mmer_tf.errors import MmerError


def balanced_class_weights(one_hot: np.ndarray) -> np.ndarray:
    """``[K]`` float32 weights from ``[N, K]`` one-hot training targets."""
    targets = np.asarray(one_hot, dtype=np.float64)
    if targets.ndim != 2 or targets.shape[0] == 0:
        raise MmerError(f"--class_weight balanced: needs [N, K] one-hot targets, got shape {targets.shape}")
    counts = targets.sum(axis=0)
    n, k = targets.shape[0], targets.shape[1]
    weights = np.where(counts > 0, n / (k * np.maximum(counts, 1e-12)), 0.0)
    return weights.astype(np.float32)
