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
from mmer_tf.tasks.base import LabelSchema, Table, Task

ALIASES = {"valence": ("valence",), "activation": ("activation", "arousal"), "dominance": ("dominance",)}


def ccc(truth: np.ndarray, pred: np.ndarray) -> float:
    """Lin's concordance correlation coefficient (population moments); NaN when both are constant."""
    truth = np.asarray(truth, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if truth.size == 0:
        return float("nan")
    mt, mp = truth.mean(), pred.mean()
    denominator = truth.var() + pred.var() + (mt - mp) ** 2
    return float(2.0 * np.mean((truth - mt) * (pred - mp)) / denominator) if denominator > 0 else float("nan")


def pearson(truth: np.ndarray, pred: np.ndarray) -> float:
    a = np.asarray(truth, dtype=np.float64) - np.mean(truth)
    b = np.asarray(pred, dtype=np.float64) - np.mean(pred)
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def dimensions(schema: LabelSchema) -> list[tuple[str, str]]:
    """``[(dimension, label column)]`` present in ``schema``, in valence, activation, dominance order."""
    found = []
    for dim, names in ALIASES.items():
        column = next((n for n in names if n in schema.label_names), None)
        if column is not None:
            found.append((dim, column))
    return found


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
