"""The search's last words: the validation-chosen configuration and its final seeds' test metrics.

Test metrics appear here for the first time in a search, after the choice is made: mean ± sample std
(``ddof=1``) and the Student-t 95% interval of the mean over the final seeds (:mod:`mmer_tf.stats`),
read back from the tables the final runs wrote, so what is printed is what ``compare`` and ``report`` see.
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from mmer_tf import stats

NON_METRICS = {"run_id", "threshold"}


def final_rows(config, run_ids: Sequence[int]) -> dict[str, pd.DataFrame]:
    """``{table: rows of these runs}`` for every metric table of the chosen configuration's task."""
    from mmer_tf import results, tasks

    paths = results.RunPaths.for_config(config)
    task = tasks.for_label_type(config.label_type)
    wanted = {int(r) for r in run_ids}
    found = {}
    with results.consistent_read(paths.csv_dir):
        for family in task.tables(config):
            path = paths.table(family)
            if not path.is_file():
                continue
            table = pd.read_csv(path)
            rows = table[pd.to_numeric(table["run_id"], errors="coerce").isin(wanted)]
            if len(rows):
                found[family] = rows
    return found


def _fmt(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def describe(config, run_ids: Sequence[int], headline: Sequence[str]) -> list[str]:
    """Lines: per table (and threshold), each headline metric and the test loss over the final runs."""
    lines = []
    for family, rows in final_rows(config, run_ids).items():
        groups = rows.groupby("threshold") if "threshold" in rows.columns else [(None, rows)]
        for threshold, group in groups:
            where = family + (f" (threshold {threshold})" if threshold is not None else "")
            for metric in list(headline) + ["test_loss"]:
                if metric not in group.columns or metric in NON_METRICS:
                    continue
                values = pd.to_numeric(group[metric], errors="coerce").dropna().tolist()
                if not values:
                    continue
                s = stats.summarize(values)
                lines.append(f"  {where:<40} {metric:<14} {_fmt(s.mean)} ± {_fmt(s.std)}  "
                             f"95% CI [{_fmt(s.ci_low)}, {_fmt(s.ci_high)}]  n={s.n}")
    return lines
