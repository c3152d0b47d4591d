"""Metrics of one class per segment (the ``classification_category.csv`` row): accuracy, balanced accuracy,
macro / weighted / micro F1 and one F1 per class (an F1 of a class absent from truth and predictions is NaN
and left out of the macro average).
"""

from __future__ import annotations

import re

import numpy as np

def column_name(class_name: str) -> str:
    """A class name as a CSV column suffix: lower case, non-alphanumerics as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(class_name).lower()).strip("_") or "class"


def confusion_matrix(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``[K, K]`` int64 counts, rows true class, columns predicted class."""
    index = np.asarray(true, np.int64) * num_classes + np.asarray(pred, np.int64)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def category_metrics(true: np.ndarray, pred: np.ndarray, classes) -> dict[str, float]:
    """The ``classification_category.csv`` row for integer class indices ``[N]``."""
    classes = tuple(classes)
    k = len(classes)
    matrix = confusion_matrix(true, pred, k).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    tp = np.diag(matrix)
    denominator = support + predicted
    f1 = np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)
    seen = denominator > 0
    n = matrix.sum()
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    row = {
        "acc": float(tp.sum() / n) if n else float("nan"),
        "balanced_acc": float(recall[support > 0].mean()) if (support > 0).any() else float("nan"),
        "f1_macro": float(f1[seen].mean()) if seen.any() else float("nan"),
        "f1_weighted": float((f1 * support).sum() / n) if n else float("nan"),
        "f1_micro": float(tp.sum() / n) if n else float("nan"),
    }
    for index, name in enumerate(classes):
        row[f"f1_{column_name(name)}"] = float(f1[index]) if seen[index] else float("nan")
    return row
