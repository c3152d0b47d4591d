"""The interval of a single run's score: a bootstrap over its test segments from ``-sp`` predictions.

A group of one run has no seed spread to put an interval on; what can still be said is how much its
score depends on which segments the test fold holds. The run's saved predictions
(``predictions_<param>_run<id>.npz`` beside its model) are resampled with replacement and re-scored by
the run's own task (configuration recovered from its ``model_ids.csv`` row), so the metric is exactly
the table's.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Mapping

import numpy as np

from mmer_tf import stats


def predictions_path(model_file: str) -> Path | None:
    """``.../model_<x>.keras`` -> ``.../predictions_<x>.npz`` (None if the name does not follow the pattern)."""
    path = Path(model_file)
    if not path.name.startswith("model_") or path.suffix != ".keras":
        return None
    return path.with_name("predictions_" + path.name[len("model_"):-len(".keras")] + ".npz")


def interval(row: Mapping[str, object], family: str, metric: str, *, resamples: int = 1000,
             seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``metric`` in table ``family`` (e.g. ``classification_dominant``)
    for the run of ``row`` (a joined table row with ``model_file``), or None without saved predictions."""
    from mmer_tf import runconfig, tasks
    from mmer_tf.errors import MmerError

    model_file = str(row.get("model_file") or "")
    path = predictions_path(model_file) if model_file and model_file != "nan" else None
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            labels, predictions = saved["true_labels"], saved["predictions"]
            names = tuple(str(n) for n in saved["label_names"])
            classes = tuple(str(c) for c in saved["classes"]) if "classes" in saved else ()
        config = runconfig.config_from_row({k: str(v) for k, v in row.items() if v is not None})
        config = config.replace(round_decimals=12)
        task = tasks.for_label_type(config.label_type)
    except (OSError, KeyError, ValueError, MmerError):
        return None
    schema = tasks.LabelSchema(names, classes)
    threshold = row.get("threshold")

    def score(index: np.ndarray) -> float:
        rows = task.evaluate(config, labels[index], predictions[index], schema).get(family) or []
        if threshold is not None and len(rows) > 1:
            rows = [r for r in rows if np.isclose(float(r.get("threshold", np.nan)), float(threshold))]
        value = rows[0].get(metric) if rows else None
        return float(value) if value is not None else float("nan")

    if len(labels) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined precision of a class absent from a resample
        return stats.bootstrap_interval(score, len(labels), resamples=resamples, seed=seed)
