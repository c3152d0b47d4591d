"""Early stopping that may not stop before ``--min_num_epochs`` (the seed-002 trainer's ``min_num_epochs``).

Unlike Keras' ``start_from_epoch``, which ignores the first epochs altogether, the best epoch is tracked
from the first epoch on (so the restored weights and the best-model checkpoint always agree); only the
decision to stop waits until ``min_num_epochs`` epochs have run.
"""

from __future__ import annotations

import keras


class MinEpochsEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` whose stop is vetoed while fewer than ``min_epochs`` epochs have run."""

    def __init__(self, *, min_epochs: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.min_epochs = int(min_epochs)

    def on_epoch_end(self, epoch, logs=None):
        stopping_already = bool(self.model.stop_training)  # e.g. TerminateOnNaN: never overridden
        super().on_epoch_end(epoch, logs)
        if not stopping_already and self.model.stop_training and epoch + 1 < self.min_epochs:
            self.model.stop_training = False
            self.stopped_epoch = 0
