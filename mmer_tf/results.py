"""Run ids, result tables and artefact paths: everything a run leaves in ``models/<model_name>/``.

Layout (``-mf`` = ``config.model_folder``, ``-mn`` = ``config.model_name``, ``-cf`` = ``config.csv_folder``)::

    <mf>/<mn>/model_<param_name>_run<id>.keras        best model
    <mf>/<mn>/predictions_<param_name>_run<id>.npz    -sp: predictions and truth
    <mf>/<mn>/conf_matrix_<param_name>_run<id>.npz    -scm: multilabel confusion matrices (+ .png)
    <mf>/<mn>/history_<param_name>_run<id>.png        loss / metric curves
    <mf>/<mn>/<cf>/model_ids.csv                      one row per run: id, dataset, parameters, times
    <mf>/<mn>/<cf>/regression.csv                     one row per run (mae, mse, mse_happy, ...)
    <mf>/<mn>/<cf>/classification_score_coarse.csv
    <mf>/<mn>/<cf>/classification_presence.csv        one row per run and presence threshold
    <mf>/<mn>/<cf>/classification_dominant.csv

``-cf`` may be absolute (then it replaces ``<mf>/<mn>/<cf>``, as ``os.path.join`` does). ``-cn``
(``config.csv_name``) is a *prefix*: with ``-cn exp1`` the tables are ``exp1_model_ids.csv``,
``exp1_regression.csv``, ... in the same folder, so several experiment series can share a model folder;
run ids stay unique across all prefixes of a folder.

Concurrency (many runs of a cluster array writing the same tables):

* Run ids come from :func:`reserve_run_id`: exclusive creation of ``<csv dir>/.run_ids/<id>``. The seed
  used "row count = id", which hands the same id to two runs that finish together.
* A table is only ever replaced whole (write a temporary file, fsync, rename), under a
  ``filelock.FileLock`` next to it, so a reader sees the old or the new table, never half a row, and a
  run killed mid-write leaves the table as it was.
* :func:`write_run` holds one folder lock over all the tables of a run and writes ``model_ids.csv``
  *last*: it is the commit record. Readers join metric rows with it, so a run that died between two
  tables is invisible rather than half there.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import re
import socket
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import filelock

from mmer_tf.errors import MmerError

#: metric family -> default table file name (the seed's names; ``coarse`` is new).
TABLE_FILES = {
    "regression": "regression.csv",
    "coarse": "classification_score_coarse.csv",
    "presence": "classification_presence.csv",
    "dominant": "classification_dominant.csv",
}
MODEL_IDS_FILE = "model_ids.csv"
RESERVATION_DIR = ".run_ids"
FOLDER_LOCK = ".tables.lock"
#: Columns of model_ids.csv that describe the run's bookkeeping rather than what was run.
BOOKKEEPING_COLUMNS = ("run_id", "dataset", "status", "started", "finished", "wall_time_s", "host", "job")
#: How long a writer waits for a table lock before giving up with a clear error (seconds).
LOCK_TIMEOUT_S = 600.0

_FAMILY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


# --------------------------------------------------------------------------------------------- paths
def _check_name(value: str, flag: str, *, allow_empty: bool = False) -> str:
    if (not value and not allow_empty) or "/" in value or "\\" in value or value in (".", ".."):
        raise MmerError(f"{flag} {value!r}: must be a plain name (no '/', not empty)")
    return value


def table_filename(family: str, csv_name: str = "") -> str:
    """File name of ``family``'s table, with the ``-cn`` prefix if any.

    ``family`` is a short name (``regression``, ``coarse``, ``presence``, ``dominant``), ``model_ids``,
    or any lower-case stem such as ``classification_presence`` (the names :mod:`mmer_tf.metrics` uses).
    """
    if family == "model_ids":
        base = MODEL_IDS_FILE
    elif family in TABLE_FILES:
        base = TABLE_FILES[family]
    elif _FAMILY_NAME.match(family):
        # The long names mmer_tf.metrics uses ("classification_presence", ...) are the table stems; a new
        # metric family gets its own table without touching this module.
        base = f"{family}.csv"
    else:
        raise ValueError(f"metric family {family!r} is not a lower-case identifier")
    return f"{csv_name}_{base}" if csv_name else base


@dataclass(frozen=True)
class RunPaths:
    """Where one configuration's artefacts and tables go; artefact names carry the run id."""

    model_dir: Path
    csv_dir: Path
    param_name: str
    csv_name: str = ""

    @classmethod
    def for_config(cls, config) -> "RunPaths":
        """Paths for an :class:`~mmer_tf.config.ExperimentConfig` (``-mf``, ``-mn``, ``-cf``, ``-cn``)."""
        model_name = _check_name(config.model_name, "-mn/--model_name")
        csv_name = _check_name(config.csv_name, "-cn/--csv_name", allow_empty=True)
        if not config.csv_folder:
            raise MmerError("-cf/--csv_folder: must not be empty")
        model_dir = Path(config.model_folder) / model_name
        return cls(model_dir, model_dir / config.csv_folder, config.param_name, csv_name)

    def table(self, family: str) -> Path:
        return self.csv_dir / table_filename(family, self.csv_name)

    @property
    def model_ids(self) -> Path:
        return self.table("model_ids")

    def _artefact(self, stem: str, run_id: int, suffix: str) -> Path:
        return self.model_dir / f"{stem}_{self.param_name}_run{int(run_id)}{suffix}"

    def best_model(self, run_id: int) -> Path:
        return self._artefact("model", run_id, ".keras")

    def predictions(self, run_id: int) -> Path:
        return self._artefact("predictions", run_id, ".npz")

    def confusion(self, run_id: int) -> Path:
        return self._artefact("conf_matrix", run_id, ".npz")

    def confusion_plot(self, run_id: int) -> Path:
        return self._artefact("conf_matrix", run_id, ".png")

    def history_plot(self, run_id: int) -> Path:
        return self._artefact("history", run_id, ".png")

    def ensure_dirs(self) -> None:
        try:
            self.model_dir.mkdir(parents=True, exist_ok=True)
            self.csv_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MmerError(f"{exc.filename or self.csv_dir}: cannot create output folder ({exc.strerror})")


# ------------------------------------------------------------------------------------ atomic writes
def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, fsync it, rename it into place.

    Readers (and a crash) see the old file or the new one, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


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


# ----------------------------------------------------------------------------------------- run ids
def _max_int_name(folder: Path) -> int:
    best = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.isdigit():
                best = max(best, int(entry.name))
    return best


def _max_recorded_id(csv_dir: Path) -> int:
    """Largest run id already in any ``*model_ids.csv`` of the folder (ids survive a deleted .run_ids/)."""
    best = 0
    for table in csv_dir.glob(f"*{MODEL_IDS_FILE}"):
        try:
            with open(table, newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    value = (row.get("run_id") or "").strip()
                    if value.isdigit():
                        best = max(best, int(value))
        except OSError:
            continue
    return best


def reserve_run_id(csv_dir: str | os.PathLike) -> int:
    """A run id no other process of any host sharing ``csv_dir`` will get; later calls get larger ids.

    The id is claimed by creating ``<csv_dir>/.run_ids/<id>`` with ``O_CREAT | O_EXCL``, starting one
    past the largest id already reserved (or, when ``.run_ids/`` is new or empty, recorded in any
    ``*model_ids.csv`` of the folder, so ids survive a deleted reservation folder). Exclusive create is a single atomic operation on
    the file server (NFSv3 and later, every local filesystem), so it needs no lock daemon, which
    cluster NFS mounts often lack or run badly; a lock-protected counter would depend on ``flock``
    working there. A process that dies after reserving leaves a gap in the ids, never a duplicate.
    The reservation file holds host, pid and time as JSON, to trace a gap.
    """
    csv_dir = Path(csv_dir)
    reservations = csv_dir / RESERVATION_DIR
    try:
        reservations.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MmerError(f"{reservations}: cannot create the run-id folder ({exc.strerror})")
    reserved = _max_int_name(reservations)
    # The tables are only consulted when .run_ids/ is new or was emptied: reading a big model_ids.csv
    # on every reservation would cost more than everything else here.
    candidate = (reserved or _max_recorded_id(csv_dir)) + 1
    stamp = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}).encode()
    while True:
        try:
            fd = os.open(reservations / str(candidate), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            # Someone took it: jump past everything reserved so far rather than probing one by one.
            candidate = max(candidate + 1, _max_int_name(reservations) + 1)
            continue
        except OSError as exc:
            raise MmerError(f"{reservations}: cannot reserve a run id ({exc.strerror})")
        try:
            os.write(fd, stamp)
        finally:
            os.close(fd)
        return candidate


# ------------------------------------------------------------------------------------------ tables
@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``filelock.FileLock`` (flock; a soft lock where the filesystem lacks flock)."""
    lock = filelock.FileLock(str(lock_path), timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise MmerError(f"{lock_path}: still locked after {LOCK_TIMEOUT_S:.0f} s by another run; "
                        "if no run is writing, delete the lock file")
    try:
        yield
    finally:
        lock.release()


@contextmanager
def consistent_read(csv_dir: str | os.PathLike) -> Iterator[None]:
    """Hold the folder lock while reading a folder's tables, so no :func:`write_run` is half-way.

    On a folder the reader may not write (a copied or read-only results folder) it reads unlocked:
    each table is still whole (atomic renames) and ``model_ids.csv``, written last, keeps a
    half-recorded run out of any join on it.
    """
    lock = filelock.FileLock(str(folder_lock(csv_dir)), timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise MmerError(f"{folder_lock(csv_dir)}: still locked after {LOCK_TIMEOUT_S:.0f} s by another run; "
                        "if no run is writing, delete the lock file")
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()


def table_lock(csv_path: str | os.PathLike) -> Path:
    """The lock file guarding one table: ``.<table>.lock`` next to it (hidden, so it does not clutter
    the folder; it is left in place, since deleting a lock file others may be waiting on breaks it)."""
    csv_path = Path(csv_path)
    return csv_path.with_name(f".{csv_path.name}.lock")


def folder_lock(csv_dir: str | os.PathLike) -> Path:
    """The lock file :func:`write_run` holds over all the tables of one folder; readers may take it too."""
    return Path(csv_dir) / FOLDER_LOCK


def _cell(value) -> str:
    """One CSV cell: ``None`` is empty, floats keep full precision (``repr``), NumPy scalars unwrap."""
    if value is None:
        return ""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _encode_rows(header: Sequence[str], rows: Iterable[Mapping[str, object]], *,
                 with_header: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if with_header:
        writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in header])
    return buffer.getvalue()


def _read_table(csv_path: Path) -> tuple[str, list[str]]:
    """The table's text and header; ``("", [])`` when it does not exist or is empty."""
    try:
        text = csv_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "", []
    if not text.strip():
        return "", []
    header = next(csv.reader(io.StringIO(text)))
    if len(set(header)) != len(header):
        raise MmerError(f"{csv_path}: header repeats a column name")
    return text, header


def append_rows(csv_path: str | os.PathLike, rows: Sequence[Mapping[str, object]]) -> None:
    """Add ``rows`` (dicts column -> value) to a CSV table, under a file lock next to it.

    A row may lack columns (empty cells). When the rows bring columns the table does not have, the
    table is rewritten with the union of columns (existing order first, new ones in row order) and the
    existing rows get empty cells. Either way the table is replaced atomically, so no row is lost or
    interleaved, and a reader never sees a partial row.
    """
    csv_path = Path(csv_path)
    rows = [dict(row) for row in rows]
    if not rows:
        return
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(table_lock(csv_path)):
        text, header = _read_table(csv_path)
        known = set(header)
        new_columns = list(dict.fromkeys(key for row in rows for key in row if key not in known))
        if text and not new_columns:
            body = text if text.endswith("\n") else text + "\n"
            payload = body + _encode_rows(header, rows)
        else:
            union = header + new_columns
            old_rows = []
            if text:
                reader = csv.reader(io.StringIO(text))
                next(reader)
                for line_number, record in enumerate(reader, start=2):
                    if len(record) > len(header):
                        raise MmerError(f"{csv_path}: row {line_number} has {len(record)} cells for "
                                        f"{len(header)} columns")
                    old_rows.append(dict(zip(header, record)))
            payload = _encode_rows(union, old_rows + rows, with_header=True)
        atomic_write(csv_path, lambda handle: handle.write(payload.encode("utf-8")))


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

    One folder lock is held over all the writes, and ``model_ids.csv`` is written last as the commit
    record: a reader that joins on it never sees a half-recorded run.
    """
    run_id = int(run_id)
    paths.ensure_dirs()
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

    with _locked(folder_lock(paths.csv_dir)):
        for csv_path, rows in tables:
            append_rows(csv_path, rows)
        append_rows(paths.model_ids, [ids_row])
