"""Metrics, one home: every task's metric functions side by side, on NumPy alone.

:mod:`~mmer_tf.metrics.emotions` (CMU-MOSEI's four emotion families), :mod:`~mmer_tf.metrics.sentiment`
(MMSA's sentiment columns), :mod:`~mmer_tf.metrics.category` (one class per segment), and
:mod:`~mmer_tf.metrics.common`: what they share, including the undefined-value policy, which is an explicit
``zero_division`` argument (scikit-learn's name). scikit-learn is the oracle in the tests, never a runtime
dependency. The emotion families are importable from here (``metrics.evaluate``), as the emotions task uses them.
"""

from mmer_tf.metrics.common import binary_counts, check_prediction_matrix, round_row, weighted_binary_f1
from mmer_tf.metrics.emotions import (FAMILIES, PROBABILITY_CUTOFF, averaged_prf, coarse_family, dominant_classes,
                                      dominant_family, evaluate, family_columns, multilabel_confusion,
                                      multilabel_family, presence_classes, presence_family, prf_from_counts,
                                      regression_errors, regression_family, roc_auc, subset_accuracy,
                                      weighted_accuracy)

__all__ = ["FAMILIES", "PROBABILITY_CUTOFF", "averaged_prf", "binary_counts", "check_prediction_matrix",
           "coarse_family", "dominant_classes", "dominant_family", "evaluate", "family_columns",
           "multilabel_confusion", "multilabel_family", "presence_classes", "presence_family", "prf_from_counts",
           "regression_errors", "regression_family", "roc_auc", "round_row", "subset_accuracy",
           "weighted_accuracy", "weighted_binary_f1"]
