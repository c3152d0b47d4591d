"""CMU-MOSEI emotion presence (``-lt all|coarse|present|dominant``): the original suite's task.

The label transforms live in :mod:`mmer_tf.data.labels` and the four metric families in
:mod:`mmer_tf.metrics`; this module binds them to the runner. It needs the six emotion columns
(CMU-MOSEI's order, sentiment first), so a corpus that declares them (CMU-MOSEI, a feature folder with
the six emotion columns) can be trained on it.
"""

from __future__ import annotations

import numpy as np

from mmer_tf import metrics
from mmer_tf.data import labels as lab
from mmer_tf.data.segments import LABEL_NAMES
from mmer_tf.tasks.base import LabelSchema, Table, Task


class EmotionTask(Task):
    name = "emotions"
    summary = ("CMU-MOSEI emotions: presence scores (all), scores rounded to 0-3 (coarse), presence (present) or "
               "dominant emotion(s) (dominant)")
    label_types = lab.LABEL_TYPES
    all_tables = (Table("regression", "regression", "mae"),
                  Table("coarse", "classification_score_coarse", "f1_macro"),
                  Table("presence", "classification_presence", "f1_macro"),
                  Table("dominant", "classification_dominant", "f1_macro"))

    def supports(self, schema: LabelSchema) -> bool:
        return tuple(schema.label_names) == LABEL_NAMES

    def output_kind(self, config) -> str:
        return lab.output_kind(config.label_type)

    def num_outputs(self, config, schema: LabelSchema) -> int:
        return lab.num_outputs(config.label_type, config.predict_neutral_class)

    def targets(self, config, labels, schema):
        return lab.make_targets(labels, config.label_type, neutral=config.predict_neutral_class,
                                threshold=config.threshold_emo_present[0])

    def evaluate(self, config, labels, predictions, schema):
        return metrics.evaluate(
            labels, predictions, label_type=config.label_type, thresholds=config.threshold_emo_present,
            neutral=config.predict_neutral_class, decimals=config.round_decimals,
        )

    def tables(self, config) -> tuple[str, ...]:
        if lab.output_kind(config.label_type) == "scores":
            return metrics.FAMILIES
        return ("classification_presence", "classification_dominant")

    def save_confusion(self, config, paths, run_id, labels, predictions, schema) -> list:
        """One multilabel confusion file (``.npz`` + PNG) per ``-tp`` threshold, as the original saved."""
        from mmer_tf import plots, results

        names = lab.class_names(config.predict_neutral_class)
        written = []
        several = len(config.threshold_emo_present) > 1
        for threshold in config.threshold_emo_present:
            true_cls, pred_cls = metrics.presence_classes(
                labels, predictions, label_type=config.label_type, threshold=threshold,
                neutral=config.predict_neutral_class)
            matrices = metrics.multilabel_confusion(true_cls, pred_cls)
            tag = f"_tp{threshold:g}" if several else ""
            npz = paths.confusion(run_id, tag)
            png = paths.confusion_plot(run_id, tag)
            results.save_predictions(npz, matrices=matrices, classes=np.asarray(names),
                                     threshold=np.float32(threshold))
            plots.plot_confusion(matrices, names, png, title=f"presence, threshold {threshold:g}",
                                 display=config.display_fig)
            written += [npz, png]
        return written


TASK = EmotionTask()
