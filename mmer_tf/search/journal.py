"""A study's shared state on the filesystem: the Optuna journal, a claim lock, liveness, ``trials.csv``.

Several processes (one machine, or a SLURM job array on a shared filesystem) work on one study:

- The journal is ``JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))``: an
  append-only log every process replays; its lock is an ``O_EXCL`` lock file, which works over NFS v3+,
  forcibly released after :data:`LOCK_GRACE_S` seconds without change (a holder killed mid-write).
- Deciding whether to start another trial (count the trials, fail dead ones, ask the sampler) happens
  under a second lock of the same kind (:func:`claim_lock`), so N processes start exactly ``--trials``
  trials between them and never retry one dead trial twice.
- Every trial, and every final-seed run, records who runs it (``host``, ``pid``) and a heartbeat
  (``alive_at``, refreshed every :data:`HEARTBEAT_S` seconds while it runs). A record is stale when its
  process is gone from this host, or its heartbeat is older than :data:`STALE_AFTER_S` (another host, or
  a reused pid): its trial is failed and enqueued again with the same parameters, and the rerun resumes
  the dead run from its last completed epoch (``mmer_tf.resume``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from mmer_tf.errors import MmerError
from mmer_tf.fileio import atomic_write_text, process_alive

LOCK_GRACE_S = 60
HEARTBEAT_S = 30.0
STALE_AFTER_S = 600.0
#: trials.csv columns: the trial number, its parameters (JSON), its state, the validation value of a
#: complete trial, and the run id when the trial wrote rows.
TRIALS_COLUMNS = ("trial", "params", "state", "value", "run_id")


def trials_csv_path(journal: str | os.PathLike) -> Path:
    """``<study>.journal`` -> ``<study>.trials.csv`` beside it."""
    journal = Path(journal)
    stem = journal.name[: -len(".journal")] if journal.name.endswith(".journal") else journal.name
    return journal.with_name(f"{stem}.trials.csv")


def open_storage(path: str | os.PathLike):
    """The study's journal storage (the file and its folder are created when missing)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = Path(path)
    if path.exists() and not path.is_file():
        raise MmerError(f"--storage {path}: not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = JournalFileOpenLock(str(path), grace_period=LOCK_GRACE_S)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
    except OSError as exc:
        raise MmerError(f"--storage {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # optuna's replay of a damaged journal
        raise MmerError(f"--storage {path}: unreadable journal ({exc})") from None


@contextmanager
def claim_lock(journal: str | os.PathLike) -> Iterator[None]:
    """Hold the study's claim lock (``<journal>.claim.lock``; NFS-safe, stale after the grace period)."""
    from optuna.storages.journal import JournalFileOpenLock

    lock = JournalFileOpenLock(str(journal) + ".claim", grace_period=LOCK_GRACE_S)
    lock.acquire()
    try:
        yield
    finally:
        try:
            lock.release()
        except RuntimeError:  # forcibly released by another process after the grace period
            pass


def owner() -> dict:
    """Who runs a trial: this host and process, and a fresh heartbeat."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "alive_at": time.time()}


def is_stale(record: dict, now: float | None = None) -> bool:
    """A running record whose process is gone (this host) or whose heartbeat stopped (any host)."""
    now = time.time() if now is None else now
    try:
        alive_at = float(record.get("alive_at", 0))
        pid = int(record.get("pid", -1))
    except (TypeError, ValueError):
        return True
    if now - alive_at > STALE_AFTER_S:
        return True
    if record.get("host") == socket.gethostname():
        return pid <= 0 or not process_alive(pid)
    return False


class Heartbeat:
    """Refresh ``alive_at`` through ``beat()`` every :data:`HEARTBEAT_S` s in a daemon thread while running."""

    def __init__(self, beat: Callable[[float], None], interval: float = HEARTBEAT_S):
        self._beat = beat
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mmer-search-heartbeat", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat(time.time())
            except Exception:  # a missed beat only makes the record look older; the next one retries
                pass

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)


def trial_owner(trial) -> dict:
    return {k: trial.user_attrs.get(k) for k in ("host", "pid", "alive_at")}


def fail_stale_trials(study, storage) -> list[int]:
    """Fail every RUNNING trial whose process is dead and enqueue it again (call under the claim lock).

    The failed trial keeps its number and gets ``retried=True`` (it does not count toward ``--trials``);
    the enqueued copy carries ``retry_of``. Returns the numbers failed.
    """
    from optuna.trial import TrialState

    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_stale(trial_owner(trial)):
            continue
        storage.set_trial_user_attr(trial._trial_id, "retried", True)
        storage.set_trial_user_attr(trial._trial_id, "error", "its process died; enqueued again")
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})
        failed.append(trial.number)
    return failed


def counted(trial) -> bool:
    """Whether a trial counts toward ``--trials`` (a dead process's failed attempt does not)."""
    return not trial.user_attrs.get("retried", False)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_trials_csv(study, path: str | os.PathLike) -> Path:
    """``trials.csv``: one row per trial (call under the claim lock so later writes see later journals)."""
    from optuna.trial import TrialState

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRIALS_COLUMNS)
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        value = trial.value if trial.state == TrialState.COMPLETE else None
        # an enqueued retry has no params until it starts: show the ones it will run with
        params = trial.params or trial.system_attrs.get("fixed_params") or {}
        writer.writerow([trial.number, json.dumps(params, sort_keys=True), trial.state.name, _cell(value),
                         _cell(trial.user_attrs.get("run_id"))])
    return atomic_write_text(path, buffer.getvalue())
