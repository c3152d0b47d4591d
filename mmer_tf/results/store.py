"""The journaled CSV store: all-or-nothing appends to several tables of one folder, under one lock.

A table is only ever replaced whole (staged file, fsync, rename) under the folder's lock; a multi-table
append stages every new version, renames a journal into place (the commit point), then renames the
staged files; the next writer finishes a killed writer's committed journal (:func:`recover_tables`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import filelock

from mmer_tf.errors import MmerError
from mmer_tf.fileio import file_mode

FOLDER_LOCK = ".tables.lock"
#: Suffix of a table's staged new version, and the commit record of a multi-table append.
TXN_SUFFIX = ".txn"
JOURNAL_FILE = ".tables.journal"
#: How long a writer waits for a table lock before giving up with a clear error (seconds).
LOCK_TIMEOUT_S = 600.0


def _acquire(lock: filelock.FileLock, lock_path: Path) -> None:
    try:
        lock.acquire()
    except filelock.Timeout:
        raise MmerError(f"{lock_path}: still locked after {LOCK_TIMEOUT_S:.0f} s by another run; "
                        "if no run is writing, delete the lock file") from None


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``filelock.FileLock`` (flock; a soft lock where the filesystem lacks flock)."""
    lock = filelock.FileLock(str(lock_path), timeout=LOCK_TIMEOUT_S)
    _acquire(lock, lock_path)
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
        _acquire(lock, folder_lock(csv_dir))
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


def check_tables(paths, table_names: Iterable[str]) -> None:
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
