"""Run ids: reserved by exclusive file creation, released when a run records nothing, and the
artefacts of a run that ends without rows removed (:func:`holding`, which ``experiment.run`` owns)."""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mmer_tf.errors import MmerError
from mmer_tf.results.paths import MODEL_IDS_FILE, RunPaths
from mmer_tf.results.store import consistent_read

RESERVATION_DIR = ".run_ids"


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


# A resumed run keeps the id its first attempt reserved (mmer_tf.resume).
def run_id_state(paths: RunPaths, run_id: int) -> str:
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


#: How a run ends without rows: a user error, a file-system refusal, Ctrl-C. Anything else (SIGUSR1's
#: exit 75, a crash's traceback) keeps the id and checkpoint, so a rerun resumes the run.
DISCARD_ON = (MmerError, OSError, KeyboardInterrupt)


class HeldRuns:
    """The runs that hold an id inside one :func:`holding` block and have no rows yet."""

    def __init__(self) -> None:
        self._runs: list[tuple[RunPaths, int]] = []

    def hold(self, paths: RunPaths, run_id: int) -> None:
        """Run ``run_id`` now holds its id and may leave artefacts."""
        self._runs.append((paths, int(run_id)))

    def recorded(self, paths: RunPaths, run_id: int) -> None:
        """The run's rows exist from here (in the tables, or saved as JSON): never discard it."""
        self._runs[:] = [(p, r) for p, r in self._runs if not (p == paths and r == int(run_id))]

    def discard(self) -> list[Path]:
        """Remove every held run's artefacts and release its id; returns the files removed."""
        removed = []
        while self._runs:
            paths, run_id = self._runs.pop()
            try:
                removed += discard_run(paths, run_id)
            except OSError:
                continue  # best effort: the error being reported matters more
        return removed


@contextmanager
def holding(discard_on: tuple[type[BaseException], ...] = DISCARD_ON) -> Iterator[HeldRuns]:
    """The runs held inside the block are discarded (artefacts removed, ids released) when the block
    ends by one of ``discard_on`` before they were :meth:`~HeldRuns.recorded`; the exception goes on."""
    held = HeldRuns()
    try:
        yield held
    except discard_on:
        held.discard()
        raise
