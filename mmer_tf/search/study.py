"""One study, run by this process: claim trials, run them as ordinary runs, choose on validation, rerun.

Every trial is one normal run of the suite (:func:`mmer_tf.experiment.run`) with the trial's flags on top
of the user's ``main.py`` flags, recorded in the usual tables with ``study``, ``trial`` and ``final=0``
columns. The sampler and the choice see only the validation value (the ``-v`` metric at the restored
best epoch); test metrics are computed by each run, as always, and first read after the choice, for the
final seeds (``final=1``). See :mod:`mmer_tf.search.journal` for how processes share a study.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mmer_tf.errors import MmerError
from mmer_tf.search import journal
from mmer_tf.search.space import Space

#: A trial's or final run's failure that is the run's result (its flags refused by the data, a full disk).
_TRIAL_FAILURES = (MmerError, OSError, ValueError, RuntimeError, ArithmeticError)

log = logging.getLogger("mmer_tf.search")

POLL_S = 5.0  # how often a process that has nothing to claim looks at the others' trials again
SEED_MAX = 2**32 - 1


@dataclass
class Settings:
    study: str
    journal: Path
    trials: int
    final_seeds: int
    sampler: str
    pruning: bool
    pruning_startup_trials: int
    pruning_warmup_epochs: int


class Search:
    """The study as this process sees it; ``config_for(words)`` builds a run's config from trial flags."""

    def __init__(self, settings: Settings, space: Space, base_config, config_for: Callable, base_args: list[str]):
        import optuna

        from mmer_tf import train

        self.settings = settings
        self.space = space
        self.base_args = list(base_args)
        self.base_config = base_config
        self.config_for = config_for
        self.monitor, self.mode = train.monitor_of(base_config)
        self.trials_csv = journal.trials_csv_path(settings.journal)
        if settings.sampler == "grid":
            size = math.prod(len(v) for v in space.grid().values())
            if settings.trials > size:
                log.warning("--trials %d: the grid has %d points; running %d trials", settings.trials, size, size)
                settings.trials = size
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.storage = journal.open_storage(settings.journal)
        pruner = (optuna.pruners.MedianPruner(n_startup_trials=settings.pruning_startup_trials,
                                              n_warmup_steps=settings.pruning_warmup_epochs)
                  if settings.pruning else optuna.pruners.NopPruner())
        direction = "minimize" if self.mode == "min" else "maximize"
        try:
            self.study = optuna.create_study(study_name=settings.study, storage=self.storage, direction=direction,
                                             load_if_exists=True, pruner=pruner, sampler=self._sampler(0))
        except ValueError as exc:  # an existing study of the other direction
            raise MmerError(f"study {settings.study!r} in {settings.journal}: {exc}") from None
        # The same command line and space continue a study; anything else would mix two objectives in one.
        identity = {"base_args": list(base_args), "space": space.canonical(), "monitor": self.monitor}
        with journal.claim_lock(settings.journal):
            known = self.study.user_attrs
            if "identity" not in known:
                self.study.set_user_attr("identity", identity)
            elif known["identity"] != identity:
                raise MmerError(f"study {settings.study!r} in {settings.journal} was started with other main.py flags "
                                f"or another space (flags: {' '.join(known['identity'].get('base_args', []))}); "
                                "give this search another --study name")

    # ------------------------------------------------------------------ sampling
    def _sampler(self, index: int):
        """A sampler seeded by ``--seed`` and the trial's index, so trial k draws the same in any process."""
        import optuna

        seed = (int(self.base_config.seed) + index) % SEED_MAX
        if self.settings.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if self.settings.sampler == "grid":  # its grid order is a shuffle by its seed: one seed for every trial
            return _GridSampler(self.space.grid(), seed=int(self.base_config.seed) % SEED_MAX)
        return optuna.samplers.TPESampler(seed=seed)

    def _claim(self):
        """Under the claim lock: fail dead trials, then ask for a trial when the study needs one more."""
        from optuna.trial import TrialState

        with journal.claim_lock(self.settings.journal):
            retried = journal.fail_stale_trials(self.study, self.storage)
            for number in retried:
                log.warning("trial %d: its process is gone; failed and enqueued again", number)
            trials = self.study.get_trials(deepcopy=False)
            waiting = any(t.state == TrialState.WAITING for t in trials)
            running = sum(t.state == TrialState.RUNNING for t in trials)
            trial = None
            if waiting or sum(journal.counted(t) for t in trials) < self.settings.trials:
                self.study.sampler = self._sampler(len(trials))
                trial = self.study.ask(self.space.distributions())
                for key, value in journal.owner().items():
                    trial.set_user_attr(key, value)
                running += 1
            journal.write_trials_csv(self.study, self.trials_csv)
        return trial, running

    def _beat(self, trial_id: int) -> Callable[[float], None]:
        return lambda now: self.storage.set_trial_user_attr(trial_id, "alive_at", now)

    # ------------------------------------------------------------------ one trial
    def _run_trial(self, trial) -> None:
        import optuna
        from optuna.trial import TrialState

        from mmer_tf import experiment
        from mmer_tf.callbacks.pruning import TrialPruning

        params = dict(trial.params)
        config = self.config_for(self.space.words(params))
        log.warning("trial %d: %s", trial.number, " ".join(self.space.words(params)) or "(fixed flags only)")
        callbacks = [TrialPruning(trial, self.monitor, self.mode)] if self.settings.pruning else []
        tags = {"study": self.settings.study, "trial": trial.number, "final": 0}
        result = pruned = failed = None
        try:
            with journal.Heartbeat(self._beat(trial._trial_id)):
                result = experiment.run(config, callbacks=callbacks, tags=tags,
                                        discard_on=(optuna.TrialPruned, *_TRIAL_FAILURES, KeyboardInterrupt))
        except optuna.TrialPruned as exc:
            pruned = str(exc)
        except _TRIAL_FAILURES as exc:
            # One trial's failure (its flags refused by the data, a full disk) is the trial's result.
            failed = (str(exc).splitlines() or [type(exc).__name__])[0]
        except BaseException:
            # Ctrl-C, SIGUSR1's exit 75, SystemExit: leave the trial to be retried by the next search.
            with journal.claim_lock(self.settings.journal):
                self.storage.set_trial_user_attr(trial._trial_id, "retried", True)
                self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                self.study.enqueue_trial(params, user_attrs={"retry_of": trial.number})
                journal.write_trials_csv(self.study, self.trials_csv)
            raise
        if pruned is not None:
            _forget_run(config, drop_state=True)  # outside the except block: the run's frames are gone by now
            log.warning("trial %d: %s", trial.number, pruned)
            self.study.tell(trial, state=TrialState.PRUNED)
        elif failed is not None:
            _forget_run(config)
            log.warning("trial %d failed: %s", trial.number, failed)
            trial.set_user_attr("error", failed[:500])
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            value = result.validation if result.validation is not None else _recorded_value(result)
            trial.set_user_attr("run_id", int(result.run_id))
            if value is None or not math.isfinite(value):
                trial.set_user_attr("error", f"no finite {self.monitor} (got {value})")
                self.study.tell(trial, state=TrialState.FAIL)
                log.warning("trial %d: no finite %s; failed", trial.number, self.monitor)
            else:
                self.study.tell(trial, value)
                log.warning("trial %d: %s %.6g (run %d)", trial.number, self.monitor, value, result.run_id)
        with journal.claim_lock(self.settings.journal):
            journal.write_trials_csv(self.study, self.trials_csv)

    def run_trials(self) -> None:
        """Claim and run trials until the study has ``--trials`` of them and none is running anywhere."""
        said = None
        while True:
            trial, running = self._claim()
            if trial is not None:
                self._run_trial(trial)
                continue
            if not running:
                return
            if said != running:
                log.warning("waiting for %d trial(s) running in other processes", running)
                said = running
            time.sleep(POLL_S)

    # ------------------------------------------------------------------ choice and final seeds
    def chosen(self):
        """The complete trial with the best validation value (ties: the earliest)."""
        from optuna.trial import TrialState

        done = [t for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.value is not None and math.isfinite(t.value)]
        if not done:
            raise MmerError(f"study {self.settings.study!r}: no trial completed (see {self.trials_csv})")
        sign = 1.0 if self.mode == "min" else -1.0
        return min(done, key=lambda t: (sign * t.value, t.number))

    def final_seeds(self) -> list[int]:
        base = int(self.base_config.seed)
        return [(base + i) % SEED_MAX for i in range(1, self.settings.final_seeds + 1)]

    def run_final(self, best) -> dict[int, dict]:
        """Run (or wait for) every final seed of ``best``; returns ``{seed: record}``."""
        from mmer_tf import experiment

        config = self.config_for(self.space.words(dict(best.params)))
        keys = {seed: f"final:{best.number}:{seed}" for seed in self.final_seeds()}
        said = None
        while True:
            todo = None
            with journal.claim_lock(self.settings.journal):
                records = self.study.user_attrs
                waiting = 0
                for seed, key in keys.items():
                    record = records.get(key)
                    state = (record or {}).get("state")
                    # free, given back, dead, or failed in an earlier invocation (retried once per invocation)
                    if record is None or state == "released" or (state == "running" and journal.is_stale(record)) \
                            or (state == "failed" and record.get("pid") != os.getpid()):
                        todo = seed
                        self.study.set_user_attr(key, {"state": "running", **journal.owner()})
                        break
                    waiting += record.get("state") == "running"
            if todo is None:
                if not waiting:
                    return {seed: self.study.user_attrs[key] for seed, key in keys.items()}
                if said != waiting:
                    log.warning("waiting for %d final run(s) in other processes", waiting)
                    said = waiting
                time.sleep(POLL_S)
                continue
            key = keys[todo]
            log.warning("final run: trial %d's configuration with --seed %d", best.number, todo)
            tags = {"study": self.settings.study, "trial": best.number, "final": 1}
            beat = lambda now: self.study.set_user_attr(key, {"state": "running", **journal.owner(), "alive_at": now})
            record = None
            try:
                with journal.Heartbeat(beat):
                    result = experiment.run(config.replace(seed=todo), tags=tags,
                                            discard_on=(*_TRIAL_FAILURES, KeyboardInterrupt))
            except _TRIAL_FAILURES as exc:
                record = {"state": "failed", "error": (str(exc).splitlines() or [type(exc).__name__])[0][:500],
                          **journal.owner()}
            except BaseException:
                with journal.claim_lock(self.settings.journal):
                    self.study.set_user_attr(key, {"state": "released"})
                raise
            if record is not None:
                _forget_run(config.replace(seed=todo))
                log.warning("final run with --seed %d failed: %s", todo, record["error"])
            else:
                record = {"state": "done", "run_id": int(result.run_id), "validation": result.validation}
            with journal.claim_lock(self.settings.journal):
                self.study.set_user_attr(key, record)


def _grid_sampler_class():
    import optuna

    class GridSampler(optuna.samplers.GridSampler):
        """Optuna's grid sampler without its ``study.stop()`` once the grid is used up: that only works inside
        ``study.optimize``, and this search counts its trials itself (``--trials`` is capped at the grid)."""

        def after_trial(self, study, trial, state, values) -> None:
            return None

    return GridSampler


def _GridSampler(*args, **kwargs):
    return _grid_sampler_class()(*args, **kwargs)


def _recorded_value(result) -> float | None:
    """A retried trial whose dead attempt had already written its rows: its value from ``model_ids.csv``."""
    import pandas as pd

    try:
        ids = pd.read_csv(result.paths.model_ids)
        row = ids[ids["run_id"] == int(result.run_id)]
        return float(row["best_valid_value"].iloc[-1]) if len(row) else None
    except (OSError, KeyError, ValueError, IndexError):
        return None


def _forget_run(config, drop_state: bool = False) -> None:
    """A run that records nothing (pruned, failed): experiment.run removed its checkpoint and released its id
    (``discard_on``), as on Ctrl-C.

    ``drop_state`` also removes its resume state (a pruned run trained, so the state is its own; a failed
    run may have failed on another process's lock, whose state must stay).
    """
    from mmer_tf import resume, results

    gc.collect()  # the dead run's frames hold its resume lock: release it for the next run of this config
    if drop_state:
        shutil.rmtree(resume.folder_for(results.RunPaths.for_config(config), config), ignore_errors=True)
