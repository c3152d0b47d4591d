"""Optimisation options shared by every model: optimisers (Ranger included), learning-rate schedules,
warmup and early stopping with a minimum number of epochs.

``mmer_tf.train`` asks this package for the optimiser (:func:`build_optimizer`) and for the extra
callbacks (:func:`schedule_callbacks`, :class:`MinEpochsEarlyStopping`); each piece lives in its own file.
"""

from __future__ import annotations

import importlib

from mmer_tf.optim.checks import LR_SCHEDULES, check_optimizer, check_schedule

# Each public name and the submodule that defines it. The submodules build Keras objects, so they load on
# first use: ``main.py`` defines and checks its flags before it imports the backend.
_HOMES = {
    "MinEpochsEarlyStopping": "early_stopping",
    "OPTIMIZER_NAMES": "optimizers",
    "build_optimizer": "optimizers",
    "Ranger": "ranger",
    "EpochLearningRate": "schedules",
    "learning_rate_at": "schedules",
    "schedule_callbacks": "schedules",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = ["EpochLearningRate", "LR_SCHEDULES", "MinEpochsEarlyStopping", "OPTIMIZER_NAMES", "Ranger",
           "build_optimizer", "check_optimizer", "check_schedule", "learning_rate_at", "schedule_callbacks"]
