"""A task in one module (``-lt first_class``): is a categorical segment of the corpus's first class?
One sigmoid, its own table ``first_class.csv`` ranked by accuracy (``tests/test_extension_points.py``)."""

from __future__ import annotations

import numpy as np

from mmer_tf.tasks.base import LabelSchema, Table, Task


class FirstClassTask(Task):
    name = "first_class"
    summary = "first_class: whether a categorical segment is of the corpus's first class (a test plugin)"
    label_types = ("first_class",)
    all_tables = (Table("first_class", "first_class", "acc"),)
    output_kind_default = "probabilities"

    def supports(self, schema: LabelSchema) -> bool:
        return "category" in schema.label_names and len(schema.classes) >= 2

    def num_outputs(self, config, schema: LabelSchema) -> int:
        return 1

    def targets(self, config, labels, schema):
        return (schema.column(labels, "category") == 0).astype(np.float32).reshape(-1, 1)

    def evaluate(self, config, labels, predictions, schema):
        truth = self.targets(config, labels, schema)[:, 0]
        guess = (np.asarray(predictions, dtype=np.float64).reshape(len(truth), -1)[:, 0] >= 0.5)
        return {"first_class": [{"acc": round(float(np.mean(guess == truth)), 4), "n": int(len(truth))}]}

    def headline(self):
        return ("acc",)


TASK = FirstClassTask()
