"""Sentiment intensity regression in [-3, 3] (``-lt sentiment``) with MMSA-comparable metrics.

The columns of ``sentiment.csv`` are defined exactly as MMSA's regression evaluation on CMU-MOSI /
CMU-MOSEI (``MetricsTop``), the tables most of the field compares against, so a row here can be put next
to a published one:

``has0_acc_2``, ``has0_f1``   negative vs non-negative: truth and prediction split at ``>= 0``
``non0_acc_2``, ``non0_f1``   zero truths dropped, then split at ``> 0`` (the "post-2019" binary measure)
``acc_5``, ``acc_7``          clip both to [-2, 2] / [-3, 3], then compare ``np.round`` (half to even)
``mae``                       mean absolute error of the *unclipped* values (averaged in float64; MMSA
                              averages in float32, which differs in the 7th significant digit)
``corr``                      Pearson correlation

The metric functions live in :mod:`mmer_tf.metrics.sentiment`. F1 is the support-weighted F1 of the two
classes (scikit-learn's ``average="weighted"`` with its default of 0 for an undefined F1). ``acc_7_sdk`` is the CMU SDK README's step-binned 7-class accuracy, where
intervals are closed towards zero: 0.333 is class 1 there but class 0 under MMSA's rounding; papers
differ on which one they report. Undefined values (no non-zero truth; a constant column for ``corr``)
are NaN.

``--sentiment_scheme sims`` writes ``sentiment_sims.csv`` instead: CH-SIMS's labels in [-1, 1] under
MMSA's SIMS definitions (``acc_2``, ``acc_3``, ``acc_5`` with its own bins, ``f1``, ``mae``, ``corr``;
:mod:`mmer_tf.metrics.sentiment_sims`); labels outside [-1, 1] are refused there.
"""

from __future__ import annotations

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.metrics import check_prediction_matrix, round_row
from mmer_tf.metrics.sentiment import SENTIMENT_RANGE, sentiment_metrics
from mmer_tf.tasks.base import LabelSchema, Table, Task

class SentimentTask(Task):
    name = "sentiment"
    summary = "sentiment: sentiment score regression in [-3, 3] (MMSA's metrics)"
    label_types = ("sentiment",)
    all_tables = (Table("sentiment", "sentiment", "mae"), Table("sentiment_sims", "sentiment_sims", "mae"))
    output_kind_default = "scores"

    def supports(self, schema: LabelSchema) -> bool:
        return "sentiment" in schema.label_names

    def num_outputs(self, config, schema) -> int:
        return 1

    def targets(self, config, labels, schema):
        scores = schema.column(labels, "sentiment")
        if np.isnan(scores).any():
            raise MmerError(f"{int(np.isnan(scores).sum())} segments have no sentiment label")
        if np.abs(scores).max(initial=0.0) > SENTIMENT_RANGE:
            raise MmerError(f"sentiment labels must lie in [-3, 3], found {scores[np.abs(scores) > 3][0]:g}")
        if _sims(config) and np.abs(scores).max(initial=0.0) > 1.0:
            raise MmerError(f"--sentiment_scheme sims: CH-SIMS labels lie in [-1, 1], found "
                            f"{scores[np.abs(scores) > 1][0]:g} (use --sentiment_scheme mosi for [-3, 3] scores)")
        return scores.astype(np.float32).reshape(-1, 1)

    def evaluate(self, config, labels, predictions, schema):
        truth = self.targets(config, labels, schema)[:, 0]
        predictions = check_prediction_matrix(predictions, len(truth), 1, f"task {self.name}")
        if _sims(config):
            from mmer_tf.metrics.sentiment_sims import sims_metrics

            return {"sentiment_sims": [round_row(sims_metrics(truth, predictions[:, 0]), config.round_decimals)]}
        return {"sentiment": [round_row(sentiment_metrics(truth, predictions[:, 0]), config.round_decimals)]}

    def tables(self, config) -> tuple[str, ...]:
        return ("sentiment_sims",) if _sims(config) else ("sentiment",)

    def headline(self):
        return ("has0_acc_2", "non0_acc_2", "non0_f1", "acc_7", "acc_2", "acc_3", "acc_5", "mae", "corr")


def _sims(config) -> bool:
    scheme = getattr(config, "sentiment_scheme", "mosi")
    if scheme not in ("mosi", "sims"):
        raise MmerError(f"--sentiment_scheme {scheme!r}: expected mosi or sims")
    return scheme == "sims"


TASK = SentimentTask()
