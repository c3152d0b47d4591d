"""Dimensional emotion regression (``-lt dimensional``): valence, activation (arousal) and dominance scores.

Why: IEMOCAP (and other corpora annotated on the circumplex) rate each utterance on continuous
dimensions; the field reports them per dimension with the concordance correlation coefficient (CCC,
Lin 1989: ``2 cov / (var_t + var_p + (mean_t - mean_p)^2)``, population moments), which punishes a
shift or rescaling that Pearson's correlation forgives, next to MAE and Pearson.

Needs the label columns ``valence``, ``activation`` (``arousal`` is accepted for it) and optionally
``dominance``; one linear output per dimension present, trained on the scores as they are (IEMOCAP:
1-5). A segment without a score (NaN) is refused. Table ``dimensional.csv``: per dimension ``<dim>_mae``,
``<dim>_pearson``, ``<dim>_ccc`` and the means ``mae``, ``ccc`` over the dimensions.
"""

from __future__ import annotations

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.metrics import check_prediction_matrix, round_row
from mmer_tf.metrics.dimensional import dimensional_metrics
from mmer_tf.tasks.base import LabelSchema, Table, Task

ALIASES = {"valence": ("valence",), "activation": ("activation", "arousal"), "dominance": ("dominance",)}


def dimensions(schema: LabelSchema) -> list[tuple[str, str]]:
    """``[(dimension, label column)]`` present in ``schema``, in valence, activation, dominance order."""
    found = []
    for dim, names in ALIASES.items():
        column = next((n for n in names if n in schema.label_names), None)
        if column is not None:
            found.append((dim, column))
    return found


class DimensionalTask(Task):
    name = "dimensional"
    summary = "dimensional: valence/activation/dominance regression (MAE, Pearson, CCC per dimension)"
    label_types = ("dimensional",)
    all_tables = (Table("dimensional", "dimensional", "ccc"),)
    output_kind_default = "scores"

    def supports(self, schema: LabelSchema) -> bool:
        found = {dim for dim, _ in dimensions(schema)}
        return {"valence", "activation"} <= found

    def num_outputs(self, config, schema) -> int:
        return len(dimensions(schema))

    def targets(self, config, labels, schema):
        columns = np.stack([schema.column(labels, column) for _, column in dimensions(schema)], axis=1)
        if np.isnan(columns).any():
            raise MmerError(f"-lt dimensional: {int(np.isnan(columns).any(axis=1).sum())} segments have no "
                            f"dimensional score")
        return columns.astype(np.float32)

    def evaluate(self, config, labels, predictions, schema):
        truth = self.targets(config, labels, schema)
        names = [dim for dim, _ in dimensions(schema)]
        predictions = check_prediction_matrix(predictions, len(truth), len(names), f"task {self.name}")
        return {"dimensional": [round_row(dimensional_metrics(truth, predictions, names), config.round_decimals)]}

    def headline(self):
        return ("mae", "ccc", "valence_ccc", "activation_ccc", "dominance_ccc")


TASK = DimensionalTask()
