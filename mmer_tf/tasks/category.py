"""One category per segment (``-lt category``): MELD, RAVDESS, a folder of clips or feature files.

The model has one softmax unit per class and trains with categorical cross-entropy on one-hot targets;
the predicted class is the arg-max. ``classification_category.csv`` holds accuracy (weighted accuracy,
WA), balanced accuracy (unweighted accuracy, UA: the mean recall over the classes present in the truth,
as speech-emotion papers report it), macro / weighted / micro F1 and one ``f1_<class>`` per class, all
defined as scikit-learn defines them (labels = the classes seen in truth or prediction, an undefined F1
counts 0); a class seen in neither has ``f1_<class>`` NaN. Class names come from the corpus.
"""

from __future__ import annotations

import re

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.metrics import check_prediction_matrix, round_row
from mmer_tf.tasks.base import LabelSchema, Table, Task


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


class CategoryTask(Task):
    name = "category"
    summary = "category: one class per segment (softmax)"
    label_types = ("category",)
    all_tables = (Table("category", "classification_category", "f1_weighted"),)
    output_kind_default = "classes"

    def supports(self, schema: LabelSchema) -> bool:
        return "category" in schema.label_names and len(schema.classes) >= 2

    def num_outputs(self, config, schema) -> int:
        return len(schema.classes)

    def class_indices(self, labels, schema) -> np.ndarray:
        values = schema.column(labels, "category")
        k = len(schema.classes)
        bad = ~np.isfinite(values) | (values < 0) | (values >= k) | (values != np.round(values))
        if bad.any():
            raise MmerError(f"category labels must be class indices 0..{k - 1}; found {values[bad][0]!r}")
        return values.astype(np.int64)

    def targets(self, config, labels, schema):
        index = self.class_indices(labels, schema)
        return np.eye(len(schema.classes), dtype=np.float32)[index]

    def evaluate(self, config, labels, predictions, schema):
        true = self.class_indices(labels, schema)
        predictions = check_prediction_matrix(predictions, len(true), len(schema.classes), f"task {self.name}")
        row = category_metrics(true, predictions.argmax(axis=1), schema.classes)
        return {"classification_category": [round_row(row, config.round_decimals)]}

    def save_confusion(self, config, paths, run_id, labels, predictions, schema) -> list:
        from mmer_tf import plots, results

        true = self.class_indices(labels, schema)
        matrix = confusion_matrix(true, np.asarray(predictions).argmax(axis=1), len(schema.classes))
        npz, png = paths.confusion(run_id), paths.confusion_plot(run_id)
        results.save_predictions(npz, matrix=matrix, classes=np.asarray(schema.classes))
        plots.plot_class_confusion(matrix, schema.classes, png, display=config.display_fig)
        return [npz, png]

    def headline(self):
        return ("acc", "balanced_acc", "f1_macro", "f1_weighted")


TASK = CategoryTask()
