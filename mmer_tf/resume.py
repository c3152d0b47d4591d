"""Preemption-safe training: a killed run, re-run with the identical command, continues where it stopped.

Why not Keras' ``BackupAndRestore``: it restores weights and the epoch number, but not what makes the
final row identical to an uninterrupted run: the optimiser state, the dropout seed generators'
state (both are plain variables, saved here with the weights), EarlyStopping's ``best``/``wait``/best
weights, the best-model checkpoint's ``best``, and the history of the epochs already run (the tables'
``epochs_run``/``best_epoch`` and the history plot read it). The last ingredient, the same batches,
comes from the pipeline: epoch k's shuffle order is a function of (seed, k) and :class:`EpochShuffle`
tells the dataset which epoch Keras is on.

State lives in ``<model folder>/<model>/.resume/<config digest>/`` (the digest covers every
parameter column, the seed included; ``mmer_tf.config.config_digest``): ``state.json`` (epoch, callback
state, history, run id) names ``state_<epoch>.npz`` (the arrays). Each file is written to a temporary
name and renamed, the JSON last, so a kill at any instant leaves the previous epoch's state readable.
The run id reserved by the first attempt is kept there and reused, and the folder is removed once the
run's rows are written. Only process 0 writes it; every process of a data_parallel run reads it.

Signals: ``SIGUSR1`` (``run_cluster.sh`` forwards SLURM's ``--signal=B:USR1@120``) asks the run to stop
after the current epoch's state is saved; the process then exits with :data:`EXIT_PREEMPTED` (75) so the
batch script requeues the job.
(``tests/main_with_hooks.py`` kills a run after a given epoch's save, from outside this module.)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
from pathlib import Path

import keras
import numpy as np

from mmer_tf.errors import MmerError

log = logging.getLogger("mmer_tf")

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: "try again", which is what a requeued job does
STATE_FILE = "state.json"
_STOP_REQUESTED = False


def _request_stop(signum, frame):  # noqa: ARG001 (signal handler signature)
    global _STOP_REQUESTED
    _STOP_REQUESTED = True
    log.warning("signal %d: stopping after this epoch's state is saved", signum)


def install_preemption_handler() -> None:
    """Turn SIGUSR1 into 'save after this epoch and exit 75' (a no-op where signals cannot be set)."""
    try:
        signal.signal(signal.SIGUSR1, _request_stop)
    except (ValueError, AttributeError):  # not the main thread, or no SIGUSR1 on this platform
        pass


def folder_for(paths, config) -> Path:
    """``<model dir>/.resume/<digest>``; the table location joins the key when it is not the default."""
    from mmer_tf.config import parameter_columns

    digest = parameter_columns(config)["config_digest"]
    if config.csv_folder != "csv" or config.csv_name:
        where = f"{Path(paths.csv_dir).resolve()}|{config.csv_name}".encode()
        digest = f"{digest}-{hashlib.sha256(where).hexdigest()[:8]}"
    return Path(paths.model_dir) / ".resume" / digest


class RunState:
    """The on-disk state of one configuration's unfinished run."""

    def __init__(self, folder: str | os.PathLike, *, chief: bool = True):
        self.folder = Path(folder)
        self.chief = chief
        self._lock = None

    # ---------------------------------------------------------------- ownership and the run id
    def acquire(self) -> "RunState":
        """Refuse to run twice at once: a second live run of the same config and seed would share state."""
        if not self.chief:
            return self
        import filelock

        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self._lock = filelock.FileLock(str(self.folder) + ".lock", timeout=0)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise MmerError(f"{self.folder}: another run with the same parameters and seed is in progress "
                            "(wait for it, or change --seed)") from None
        return self

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def load(self) -> dict | None:
        """The saved state (``None`` when there is none); arrays are loaded by :meth:`arrays`."""
        path = self.folder / STATE_FILE
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MmerError(f"{path}: unreadable resume state ({exc}); delete {self.folder} to start over")

    def arrays(self, state: dict) -> dict[str, np.ndarray]:
        path = self.folder / state["arrays"]
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise MmerError(f"{path}: unreadable resume arrays ({exc}); delete {self.folder} to start over")

    def _write_json(self, payload: dict) -> None:
        from mmer_tf.fileio import atomic_write_text

        atomic_write_text(self.folder / STATE_FILE, json.dumps(payload))

    def save(self, payload: dict, arrays: dict[str, np.ndarray]) -> None:
        """Write the arrays, then the JSON that names them, then drop older arrays (chief only)."""
        if not self.chief:
            return
        from mmer_tf.fileio import atomic_write

        name = f"state_{int(payload['epoch'])}.npz"
        atomic_write(self.folder / name, lambda h: np.savez(h, **arrays))
        payload = {**payload, "arrays": name}
        self._write_json(payload)
        for old in self.folder.glob("state_*.npz"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def begin(self, paths, reserve) -> tuple[int, str]:
        """``(run_id, status)``: the first attempt's id when it is still held (``"resumed"``), or when its
        rows are already written (``"recorded"``: nothing left to do); else a new ``reserve()``d id
        (``"new"``), recorded here. A state whose id was given back (Ctrl-C) is dropped."""
        from mmer_tf.results import run_id_state

        state = self.load() or {}
        if "run_id" in state:
            status = run_id_state(paths, int(state["run_id"]))
            if status == "recorded":
                return int(state["run_id"]), "recorded"
            if status == "reserved":
                return int(state["run_id"]), ("resumed" if state.get("epoch", -1) >= 0 else "new")
            if self.chief:
                shutil.rmtree(self.folder, ignore_errors=True)
        if not self.chief:
            return -1, "new"
        run_id = int(reserve())
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_json({"run_id": run_id, "epoch": -1})
        return run_id, "new"

    def clear(self) -> None:
        """Remove the state once the run's rows are written (chief only)."""
        if self.chief:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.release()
        if self.chief:
            Path(str(self.folder) + ".lock").unlink(missing_ok=True)
            try:
                self.folder.parent.rmdir()  # .resume/ goes too when no other run has state there
            except OSError:
                pass


# ---------------------------------------------------------------------------------------- callbacks
class EpochShuffle(keras.callbacks.Callback):
    """Pin the training dataset's shuffle to Keras' epoch number (see ``pipeline.set_epoch``)."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def on_epoch_begin(self, epoch, logs=None):
        from mmer_tf.data import pipeline

        pipeline.set_epoch(self.dataset, epoch)


def _find(callbacks, type_name: str):
    """The first callback of that class or of a subclass of it (e.g. a minimum-epochs EarlyStopping)."""
    return next((c for c in callbacks if any(k.__name__ == type_name for k in type(c).__mro__)), None)


def _float_or_none(value):
    return None if value is None else float(value)


class SaveState(keras.callbacks.Callback):
    """At every epoch end (after early stopping and the checkpoint have updated), save everything."""

    def __init__(self, state: RunState, loaded: dict | None, callbacks: list, run_id: int):
        super().__init__()
        self.state = state
        self.loaded = loaded or {}
        self.others = callbacks
        self.run_id = run_id
        self.history = {k: list(v) for k, v in self.loaded.get("history", {}).items()}
        self._arrays = {}

    def on_train_begin(self, logs=None):
        # Runs after EarlyStopping.on_train_begin (this callback comes last), which reset its state.
        if self.loaded.get("epoch", -1) < 0:
            return
        stop, ckpt = _find(self.others, "EarlyStopping"), _find(self.others, "BestModelCheckpoint")
        saved = self.loaded.get("early_stopping") or {}
        if stop is not None and saved:
            stop.wait, stop.stopped_epoch = int(saved["wait"]), int(saved["stopped_epoch"])
            stop.best, stop.best_epoch = _float_or_none(saved["best"]), int(saved["best_epoch"])
            count = int(saved.get("best_weights", 0))
            stop.best_weights = [self._arrays[f"es_{i}"] for i in range(count)] if count else None
        saved = self.loaded.get("checkpoint") or {}
        if ckpt is not None and saved:
            ckpt.best, ckpt.best_epoch = _float_or_none(saved["best"]), saved["best_epoch"]

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        stop, ckpt = _find(self.others, "EarlyStopping"), _find(self.others, "BestModelCheckpoint")
        arrays = snapshot(self.model)
        payload = {"run_id": self.run_id, "epoch": int(epoch), "history": self.history,
                   "stopped": bool(self.model.stop_training)}
        if stop is not None:
            weights = stop.best_weights or []
            arrays.update({f"es_{i}": np.asarray(w) for i, w in enumerate(weights)})
            payload["early_stopping"] = {"wait": int(stop.wait), "stopped_epoch": int(stop.stopped_epoch),
                                         "best": _float_or_none(stop.best), "best_epoch": int(stop.best_epoch),
                                         "best_weights": len(weights)}
        if ckpt is not None:
            payload["checkpoint"] = {"best": _float_or_none(ckpt.best), "best_epoch": ckpt.best_epoch}
        self.state.save(payload, arrays)
        if _STOP_REQUESTED:
            log.warning("preempted: state saved after epoch %d in %s; rerun the same command to resume",
                        epoch + 1, self.state.folder)
            raise SystemExit(EXIT_PREEMPTED)


def snapshot(model) -> dict[str, np.ndarray]:
    """Every model variable (weights and dropout seed states) and optimiser variable, by position."""
    arrays = {f"model_{i}": np.asarray(keras.ops.convert_to_numpy(v.value)) for i, v in enumerate(model.variables)}
    arrays.update({f"opt_{i}": np.asarray(keras.ops.convert_to_numpy(v.value))
                   for i, v in enumerate(model.optimizer.variables)})
    return arrays


def restore(model, arrays: dict[str, np.ndarray]) -> None:
    """Inverse of :func:`snapshot` (the optimiser is built first so its slots exist)."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    for prefix, variables in (("model", model.variables), ("opt", model.optimizer.variables)):
        count = sum(1 for k in arrays if k.startswith(prefix + "_"))
        if count != len(variables):
            raise MmerError(f"resume state holds {count} {prefix} variables, the model has {len(variables)}; "
                            "delete the .resume folder to start over")
        for i, variable in enumerate(variables):
            variable.assign(arrays[f"{prefix}_{i}"])


def attach(model, train_ds, callbacks: list, state: RunState | None, run_id: int, num_epochs: int):
    """Restore ``model`` from ``state``; returns ``(callbacks to put first, callbacks to put last,
    initial_epoch)`` for ``fit``. Without a state only the shuffle pin is added (no saving)."""
    added_first = [EpochShuffle(train_ds)]
    if state is None:
        return added_first, [], 0
    loaded = state.load()
    initial_epoch = 0
    saver = SaveState(state, loaded, callbacks, run_id)
    if loaded and loaded.get("epoch", -1) >= 0:
        arrays = state.arrays(loaded)
        from mmer_tf import distributed

        with distributed.current().scope():
            restore(model, arrays)
        saver._arrays = arrays
        done = int(loaded["epoch"]) + 1
        initial_epoch = num_epochs if loaded.get("stopped") else min(done, num_epochs)
        log.info("resuming from %s: %d epoch(s) done%s", state.folder, done,
                 " (early stopping had ended training)" if loaded.get("stopped") else "")
    install_preemption_handler()
    return added_first, [saver], initial_epoch


def merged_history(history, added: list):
    """Give ``history`` (Keras' History) the epochs run before the resume as well."""
    saver = next((c for c in added if isinstance(c, SaveState)), None)
    if saver is None:
        return history
    history.history = {k: list(v) for k, v in saver.history.items()}
    count = len(next(iter(saver.history.values()), []))
    history.epoch = list(range(count))
    return history


__all__ = ["EXIT_PREEMPTED", "EpochShuffle", "RunState", "SaveState", "attach", "folder_for",
           "install_preemption_handler", "merged_history", "restore", "snapshot"]
