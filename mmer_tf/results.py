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
* A table is only ever replaced whole (write a staged file, fsync, rename), under the folder's
  ``filelock.FileLock``, so a reader sees the old or the new table, never half a row.
* :func:`write_run` appends to all the tables of a run in one transaction (:func:`commit_tables`): every
  new table version is staged first, then a journal is renamed into place (the commit point), then the
  staged files are renamed. A failure before the commit point (a full disk) changes no table; a writer
  killed after it has its renames finished by the next writer. ``model_ids.csv`` is renamed last.
* A run that fails after training saves its rows to ``unrecorded_run<id>.json`` instead of losing them;
  one interrupted before (Ctrl-C) removes its artefacts and gives its id back (:func:`discard_run`).
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
from typing import Iterable, Iterator, Mapping, Sequence

import filelock

from mmer_tf import tasks as _tasks
from mmer_tf.errors import MmerError
from mmer_tf.fileio import atomic_write, atomic_write_text, file_mode

MODEL_IDS_FILE = "model_ids.csv"
RESERVATION_DIR = ".run_ids"
FOLDER_LOCK = ".tables.lock"
#: Suffix of a table's staged new version, and the commit record of a multi-table append.
TXN_SUFFIX = ".txn"
JOURNAL_FILE = ".tables.journal"
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
    elif family in (files := _tasks.table_files()):
        base = files[family]
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

    def confusion(self, run_id: int, tag: str = "") -> Path:
        return self._artefact("conf_matrix", run_id, f"{tag}.npz")

    def confusion_plot(self, run_id: int, tag: str = "") -> Path:
        return self._artefact("conf_matrix", run_id, f"{tag}.png")

    def history_plot(self, run_id: int) -> Path:
        return self._artefact("history", run_id, ".png")

    def ensure_dirs(self) -> None:
        try:
            self.model_dir.mkdir(parents=True, exist_ok=True)
            self.csv_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MmerError(f"{exc.filename or self.csv_dir}: cannot create output folder ({exc.strerror})")


# ------------------------------------------------------------------------------------ atomic writes
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


def release_run_id(csv_dir: str | os.PathLike, run_id: int) -> None:
    """Give back a reserved id whose run recorded nothing (interrupted before its tables were written).

    Only the reservation file goes; an id already in a ``model_ids`` table stays used (see
    :func:`reserve_run_id`), so a released id is reused only when nothing refers to it.
    """
    try:
        os.unlink(Path(csv_dir) / RESERVATION_DIR / str(int(run_id)))
    except FileNotFoundError:
        pass


# resume (issue 12): a resumed run keeps the id its first attempt reserved (mmer_tf.resume).
def run_id_state(paths: "RunPaths", run_id: int) -> str:
    """``"recorded"`` (a ``model_ids`` row has it), ``"reserved"`` (held, no row yet) or ``"free"``.

    A resumed run reuses its first attempt's id while it is ``reserved``; ``recorded`` means the
    attempt died after writing its rows (nothing left to do); ``free`` means it was given back
    (Ctrl-C), so the run starts over with a new id.
    """
    run_id = int(run_id)
    # consistent_read finishes a table append a killed writer had committed, so "recorded" is the truth
    with consistent_read(paths.csv_dir):
        for table in Path(paths.csv_dir).glob(f"*{MODEL_IDS_FILE}"):
            try:
                with open(table, newline="", encoding="utf-8") as handle:
                    if any((row.get("run_id") or "").strip() == str(run_id) for row in csv.DictReader(handle)):
                        return "recorded"
            except (OSError, UnicodeDecodeError):
                continue
    return "reserved" if (Path(paths.csv_dir) / RESERVATION_DIR / str(run_id)).exists() else "free"


def run_artefacts(paths: RunPaths, run_id: int) -> list[Path]:
    """Every file of the model folder that belongs to run ``run_id`` of this configuration, hidden
    temporaries (a checkpoint being written) included."""
    pattern = re.compile(rf"^\.?[a-z_]+_{re.escape(paths.param_name)}_run{int(run_id)}(?:[._].*)?$")
    try:
        entries = list(os.scandir(paths.model_dir))
    except OSError:
        return []
    return sorted(Path(e.path) for e in entries if pattern.match(e.name) and not e.is_dir(follow_symlinks=False))


def discard_run(paths: RunPaths, run_id: int) -> list[Path]:
    """Undo a run that will record nothing (Ctrl-C, a failure before its results exist): delete its
    checkpoint, plots and other artefacts and release its run id. Returns the files removed."""
    removed = []
    for path in run_artefacts(paths, run_id):
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
        except OSError:
            continue  # best effort: a read-only artefact stays, the id is still released
    release_run_id(paths.csv_dir, run_id)
    return removed


#: Runs of this process that hold an id but have recorded nothing yet: (paths, run_id).
_TRACKED: list[tuple[RunPaths, int]] = []


def track_run(paths: RunPaths, run_id: int) -> None:
    """Note that run ``run_id`` now holds an id and may leave artefacts; :func:`write_run` un-notes it
    (also when it saves the rows to JSON instead). Until then, :func:`discard_tracked_runs` undoes it."""
    _TRACKED.append((paths, int(run_id)))


def _untrack(paths: RunPaths, run_id: int) -> None:
    _TRACKED[:] = [(p, r) for p, r in _TRACKED if not (p == paths and r == int(run_id))]


def discard_tracked_runs() -> list[Path]:
    """Ctrl-C or a failure before the tables: remove the unrecorded runs' artefacts, release their ids."""
    removed = []
    while _TRACKED:
        paths, run_id = _TRACKED.pop()
        removed += discard_run(paths, run_id)
    return removed


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
        try:
            recover_tables(csv_dir)  # finish a killed writer's committed append before reading
        except OSError:
            pass
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
        raw = csv_path.read_bytes()
    except FileNotFoundError:
        return "", []
    except OSError as exc:
        raise MmerError(f"{csv_path}: cannot read the table ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise MmerError(f"{csv_path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); fix or move "
                        "the table, the run appends to it") from None
    if not text.strip():
        return "", []
    header = next(csv.reader(io.StringIO(text)))
    if len(set(header)) != len(header):
        raise MmerError(f"{csv_path}: header repeats a column name")
    return text, header


def _merged_table(csv_path: Path, rows: list[dict]) -> str:
    """The table's full new text: its current text plus ``rows`` (a union-of-columns rewrite when the
    rows bring new columns; the existing rows then get empty cells)."""
    text, header = _read_table(csv_path)
    known = set(header)
    new_columns = list(dict.fromkeys(key for row in rows for key in row if key not in known))
    if text and not new_columns:
        body = text if text.endswith("\n") else text + "\n"
        return body + _encode_rows(header, rows)
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
    return _encode_rows(union, old_rows + rows, with_header=True)


def _fault_point(stage: str) -> None:
    """Does nothing. The fault-injection tests replace it to kill the process at a named stage of
    :func:`commit_tables` (``staged``, ``journal``, ``renamed``)."""


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _stage_file(csv_path: Path, payload: str) -> Path:
    """Write ``payload`` to a hidden ``.<table>.<random>.txn`` next to the table, fsynced, final mode."""
    fd, tmp = tempfile.mkstemp(dir=csv_path.parent, prefix=f".{csv_path.name}.", suffix=TXN_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, file_mode())
    except BaseException:
        _unlink_quietly(Path(tmp))
        raise
    return Path(tmp)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _apply_journal(csv_dir: Path) -> None:
    """Finish a committed transaction: rename every staged file listed in the journal into place."""
    journal = csv_dir / JOURNAL_FILE
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        plan = []  # a journal is only renamed into place whole, so this is not one of ours: ignore it
    for staged, target in plan:
        staged_path, target_path = csv_dir / staged, csv_dir / target
        if staged_path.exists():
            os.replace(staged_path, target_path)
            _fault_point("renamed")
    _fsync_dir(csv_dir)
    os.unlink(journal)
    _fsync_dir(csv_dir)


def recover_tables(csv_dir: str | os.PathLike) -> None:
    """Under the folder lock: finish a transaction a killed writer had committed (its journal is
    there) and delete staged files of one that had not (it changed nothing). Every writer calls it
    first, so a crash never leaves a table half-updated for the next run."""
    csv_dir = Path(csv_dir)
    if not csv_dir.is_dir():
        return
    _apply_journal(csv_dir)
    for entry in os.scandir(csv_dir):
        if entry.name.startswith(".") and entry.name.endswith(TXN_SUFFIX):
            _unlink_quietly(Path(entry.path))


def commit_tables(csv_dir: str | os.PathLike, updates: Sequence[tuple[Path, Sequence[Mapping[str, object]]]]) -> None:
    """Append rows to several tables of one folder, all or nothing.

    Under the folder lock, every table's new version is written to a hidden staged file (fsynced); any
    failure there (a full disk, a table that is not UTF-8) deletes the staged files and leaves every
    table as it was. Then a journal naming the staged files is renamed into place (the commit point)
    and the staged files are renamed over the tables in ``updates`` order. A writer killed after the
    commit point has its renames finished by the next writer (:func:`recover_tables`); one killed
    before it leaves only staged files, which the next writer deletes.
    """
    csv_dir = Path(csv_dir)
    updates = [(Path(path), [dict(row) for row in rows]) for path, rows in updates if rows]
    if not updates:
        return
    csv_dir.mkdir(parents=True, exist_ok=True)
    for path, _ in updates:
        if path.parent.resolve() != csv_dir.resolve():
            raise ValueError(f"{path}: not a table of {csv_dir}")
    with _locked(folder_lock(csv_dir)):
        recover_tables(csv_dir)
        staged: list[tuple[Path, Path]] = []
        try:
            for path, rows in updates:
                staged.append((_stage_file(path, _merged_table(path, rows)), path))
                _fault_point("staged")
            plan = json.dumps([[tmp.name, path.name] for tmp, path in staged])
            journal = _stage_file(csv_dir / JOURNAL_FILE, plan)
        except BaseException:
            for tmp, _ in staged:
                _unlink_quietly(tmp)
            raise
        # Ctrl-C between here and the last rename would leave the journal for the next writer; hold it
        # until the transaction is complete so this process reports what really happened.
        blocked = _block_sigint()
        try:
            os.replace(journal, csv_dir / JOURNAL_FILE)
            _fsync_dir(csv_dir)
            _fault_point("journal")
            _apply_journal(csv_dir)
        finally:
            _unblock_sigint(blocked)


def _block_sigint() -> bool:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return True


def _unblock_sigint(blocked: bool) -> None:
    if blocked:
        import signal

        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def append_rows(csv_path: str | os.PathLike, rows: Sequence[Mapping[str, object]]) -> None:
    """Add ``rows`` (dicts column -> value) to one CSV table, atomically (see :func:`commit_tables`).

    A row may lack columns (empty cells). When the rows bring columns the table does not have, the
    table is rewritten with the union of columns (existing order first, new ones in row order) and the
    existing rows get empty cells. Either way the table is replaced whole, so no row is lost or
    interleaved, and a reader never sees a partial row.
    """
    csv_path = Path(csv_path)
    commit_tables(csv_path.parent, [(csv_path, rows)])


def check_tables(paths: "RunPaths", table_names: Iterable[str]) -> None:
    """Before any training: every table the run will append to (``table_names`` plus ``model_ids``)
    is readable UTF-8 CSV with a sane header, and the output folders can be written.

    Raises a one-line :class:`MmerError` naming the file, so a bad table costs no training time.
    """
    paths.ensure_dirs()
    for folder in dict.fromkeys((paths.model_dir, paths.csv_dir)):
        try:
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".write_probe.")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise MmerError(f"{folder}: cannot write there ({exc.strerror})") from None
    for name in list(table_names) + ["model_ids"]:
        path = paths.table(name)
        if path.exists() and not path.is_file():
            raise MmerError(f"{path}: is not a file; the run appends its rows there")
        _merged_table(path, [])


def _fallback_record(paths: "RunPaths", run_id: int, tables, error: BaseException) -> str:
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

    ``python -m mmer_tf.results record FILE...`` calls it, once the tables can be written again.
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
    _untrack(paths, run_id)  # from here the run's results exist: recorded, or saved as JSON
    try:
        paths.ensure_dirs()
        commit_tables(paths.csv_dir, tables)
    except (OSError, MmerError) as exc:
        reason = exc if isinstance(exc, MmerError) else (
            f"{exc.filename or paths.csv_dir}: {exc.strerror or exc}")
        saved = _fallback_record(paths, run_id, tables, exc)
        raise MmerError(f"run {run_id}: tables not written ({reason}); every table is as it was, and the "
                        f"run's rows are saved in {saved} (python -m mmer_tf.results record FILE adds them "
                        "later)") from None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mmer_tf.results record FILE...``: add saved runs' rows to their tables."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m mmer_tf.results",
                                     description="Add the rows of unrecorded_run<id>.json files to their tables.")
    parser.add_argument("command", choices=["record"])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    for file in args.files:
        try:
            run_id = record_unrecorded(file)
        except MmerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"run {run_id}: rows added from {file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def __getattr__(name: str):
    # TABLE_FILES (table name -> file name, e.g. presence -> classification_presence.csv) is the task
    # registry's, read when asked so that a plugin task's tables are included.
    if name == "TABLE_FILES":
        return _tasks.table_files()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
