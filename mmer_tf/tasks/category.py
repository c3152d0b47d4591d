"""One category per segment (``-lt category``): MELD, RAVDESS, a folder of clips or feature files.

The model has one softmax unit per class and trains with categorical cross-entropy on one-hot targets;
the predicted class is the arg-max. ``classification_category.csv`` holds accuracy (weighted accuracy,
WA), balanced accuracy (unweighted accuracy, UA: the mean recall over the classes present in the truth,
as speech-emotion papers report it), macro / weighted / micro F1 and one ``f1_<class>`` per class, all
defined as scikit-learn defines them (labels = the classes seen in truth or prediction, an undefined F1
counts 0); a class seen in neither has ``f1_<class>`` NaN. Class names come from the corpus.
"""

from __future__ import annotations

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.metrics import check_prediction_matrix, round_row
from mmer_tf.metrics.category import category_metrics, confusion_matrix
from mmer_tf.tasks.base import LabelSchema, Table, Task


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
