"""A run whose tables could not be written keeps its rows in ``unrecorded_run<id>.json``;
``python -m mmer_tf results record FILE...`` (:mod:`mmer_tf.cli.results`) adds them once the tables can be
written again."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

from mmer_tf.errors import MmerError
from mmer_tf.fileio import atomic_write_text
from mmer_tf.results.paths import MODEL_IDS_FILE
from mmer_tf.results.store import _cell, commit_tables


def fallback_record(paths, run_id: int, tables, error: BaseException) -> str:
    """Save a run's rows as JSON when its tables could not be written; returns where, or the rows."""
    record = {
        "run_id": run_id,
        "error": str(error) or type(error).__name__,
        "tables": {path.name: [{k: _cell(v) for k, v in row.items()} for row in rows] for path, rows in tables},
        "csv_dir": str(paths.csv_dir),
    }
    text = json.dumps(record, indent=1)
    name = f"unrecorded_run{run_id}.json"
    for folder in (paths.csv_dir, paths.model_dir, Path(tempfile.gettempdir())):
        try:
            return str(atomic_write_text(folder / name, text))
        except OSError:
            continue
    return "nowhere (every folder failed); rows: " + json.dumps(record["tables"], separators=(",", ":"))


def record_unrecorded(path: str | os.PathLike) -> int:
    """Append the rows of an ``unrecorded_run<id>.json`` to the tables it names (all or nothing), then
    delete it; returns the run id. Refused when ``model_ids`` already holds that run (a rerun recorded it).

    ``python -m mmer_tf results record FILE...`` calls it, once the tables can be written again.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        run_id, csv_dir, tables = int(record["run_id"]), Path(record["csv_dir"]), dict(record["tables"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MmerError(f"{path}: not a saved run ({exc})") from None
    for name in tables:
        if Path(name).name != name or not name.endswith(".csv"):
            raise MmerError(f"{path}: table name {name!r} is not a plain .csv name")
        if name.endswith(MODEL_IDS_FILE) and str(run_id) in _run_ids_in(csv_dir / name):
            raise MmerError(f"{path}: run {run_id} is already in {csv_dir / name}; nothing to add (delete the file)")
    ordered = sorted(tables.items(), key=lambda item: item[0].endswith(MODEL_IDS_FILE))  # model_ids last
    commit_tables(csv_dir, [(csv_dir / name, rows) for name, rows in ordered])
    path.unlink()
    return run_id


def _run_ids_in(table: Path) -> set[str]:
    try:
        with open(table, newline="", encoding="utf-8") as handle:
            return {(row.get("run_id") or "").strip() for row in csv.DictReader(handle)}
    except FileNotFoundError:
        return set()
