"""Recording one run: its metric rows and its ``model_ids.csv`` row in one transaction (:func:`write_run`),
and its ``-sp`` predictions file."""

from __future__ import annotations

import math
import numbers
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from mmer_tf.errors import MmerError
from mmer_tf.fileio import atomic_write
from mmer_tf.results.paths import RunPaths
from mmer_tf.results.store import commit_tables
from mmer_tf.results.unrecorded import fallback_record


def save_predictions(path: str | os.PathLike, **arrays) -> Path:
    """Save named arrays as an (uncompressed) ``.npz``, atomically; object arrays are refused (no pickle)."""
    import numpy as np

    prepared = {}
    for name, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            raise ValueError(f"{path}: array {name!r} has dtype object, which .npz can only store by pickling")
        prepared[name] = array
    return atomic_write(path, lambda handle: np.savez(handle, **prepared))


def _iso(moment: datetime | float) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(float(moment), tz=timezone.utc)
    return moment.astimezone().isoformat(timespec="seconds")


def _seconds_between(started: datetime | float, finished: datetime | float) -> float:
    def as_epoch(moment):
        return moment.timestamp() if isinstance(moment, datetime) else float(moment)

    return round(as_epoch(finished) - as_epoch(started), 3)


def _cluster_job() -> str:
    """SLURM/PBS/SGE job (and array task) id, so a row can be traced back to its cluster log."""
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID") \
        or os.environ.get("PBS_JOBID") or os.environ.get("JOB_ID") or ""
    task = os.environ.get("SLURM_ARRAY_TASK_ID") or os.environ.get("PBS_ARRAYID") \
        or os.environ.get("SGE_TASK_ID") or ""
    if task in ("undefined",):
        task = ""
    return f"{job}_{task}" if job and task else job


def _rounded(value, decimals: int | None):
    if decimals is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    value = float(value)
    return value if math.isnan(value) or math.isinf(value) else round(value, decimals)


def write_run(paths: RunPaths, run_id: int, params: Mapping[str, object],
              metric_families: Mapping[str, Mapping[str, object] | Sequence[Mapping[str, object]]],
              started: datetime | float, finished: datetime | float, *, dataset: str | None = None,
              status: str = "ok", round_decimals: int | None = None) -> None:
    """Record one run: a row per family row in each metric table, then one row in ``model_ids.csv``.

    ``params`` is :func:`mmer_tf.config.parameter_columns` (plus anything else worth a column);
    ``metric_families`` maps a family (``regression``, ``coarse``, ``presence``, ``dominant`` or a new
    lower-case name) to one row or a list of rows (presence: one per threshold, with a ``threshold``
    column). Every row is keyed by ``run_id``. ``dataset`` defaults to ``params["dataset"]``, else
    ``params["dataset_folder"]``. Metric values are rounded to ``round_decimals`` when given.

    The tables change all together or not at all (:func:`commit_tables`), ``model_ids.csv`` renamed last.
    When they cannot be written (a full disk, a table that is not UTF-8), the run's rows go to
    ``unrecorded_run<id>.json`` beside the tables (else in the model folder, else the temp folder) and
    the one-line error says where: a finished run's metrics are never lost.
    """
    run_id = int(run_id)
    tables: list[tuple[Path, list[dict]]] = []
    for family, family_rows in metric_families.items():
        if isinstance(family_rows, Mapping):
            family_rows = [family_rows]
        rows = []
        for row in family_rows:
            if "run_id" in row:
                raise ValueError(f"metric family {family!r}: rows must not carry their own 'run_id'")
            rows.append({"run_id": run_id, **{k: _rounded(v, round_decimals) for k, v in row.items()}})
        if rows:
            tables.append((paths.table(family), rows))

    if dataset is None:
        dataset = params.get("dataset") or params.get("dataset_folder") or ""
    ids_row: dict[str, object] = {
        "run_id": run_id, "dataset": dataset, "status": status, "started": _iso(started),
        "finished": _iso(finished), "wall_time_s": _seconds_between(started, finished),
        "host": socket.gethostname(), "job": _cluster_job(),
    }
    for key, value in params.items():
        ids_row.setdefault(key, value)

    tables.append((paths.model_ids, [ids_row]))
    try:
        paths.ensure_dirs()
        commit_tables(paths.csv_dir, tables)
    except (OSError, MmerError) as exc:
        reason = exc if isinstance(exc, MmerError) else (
            f"{exc.filename or paths.csv_dir}: {exc.strerror or exc}")
        saved = fallback_record(paths, run_id, tables, exc)
        raise MmerError(f"run {run_id}: tables not written ({reason}); every table is as it was, and the "
                        f"run's rows are saved in {saved} (python -m mmer_tf results record FILE adds them "
                        "later)") from None
