"""Optimisation options shared by every model: optimisers (Ranger included), learning-rate schedules,
warmup and early stopping with a minimum number of epochs.

``mmer_tf.train`` asks this package for the optimiser (:func:`build_optimizer`) and for the extra
callbacks (:func:`schedule_callbacks`, :class:`MinEpochsEarlyStopping`); each piece lives in its own file.
"""

from mmer_tf.optim.early_stopping import MinEpochsEarlyStopping
from mmer_tf.optim.optimizers import OPTIMIZER_NAMES, build_optimizer, check_optimizer
from mmer_tf.optim.ranger import Ranger
from mmer_tf.optim.schedules import LR_SCHEDULES, EpochLearningRate, learning_rate_at, schedule_callbacks

__all__ = ["EpochLearningRate", "LR_SCHEDULES", "MinEpochsEarlyStopping", "OPTIMIZER_NAMES", "Ranger",
           "build_optimizer", "check_optimizer", "learning_rate_at", "schedule_callbacks"]
