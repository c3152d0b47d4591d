"""Pruning a search trial on its validation metric, epoch by epoch.

Why the best value so far rather than the epoch's own value: the trial's objective is the monitored
metric at the epoch early stopping restores (the best one), so the intermediate values the pruner
compares across trials are on the same footing as the final ones, and one noisy epoch does not prune a
trial whose best epoch is already good. Only the validation metric is ever reported; test data is not
touched during training.
"""

from __future__ import annotations

import math

import keras


class TrialPruning(keras.callbacks.Callback):
    """After each epoch: report ``monitor``'s best value so far to ``trial``; prune when told to.

    ``mode`` is ``"min"`` or ``"max"`` (as :func:`mmer_tf.train.monitor_of` returns). Pruning raises
    :class:`optuna.TrialPruned` out of ``fit``; the caller records the trial as pruned and discards the
    run (no row), as ``main.py`` does for Ctrl-C.
    """

    def __init__(self, trial, monitor: str, mode: str):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.trial = trial
        self.monitor = monitor
        self.mode = mode
        self.best: float | None = None

    def on_epoch_end(self, epoch, logs=None):
        import optuna

        value = (logs or {}).get(self.monitor)
        if value is None or math.isnan(float(value)):
            return
        value = float(value)
        if self.best is None or (value < self.best if self.mode == "min" else value > self.best):
            self.best = value
        self.trial.report(self.best, step=int(epoch))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch + 1} ({self.monitor} best so far {self.best:.6g})")
