"""Learning-rate schedules by epoch (``--lr_schedule none|step|cosine|plateau``) and linear warmup.

The rate of epoch ``e`` (0-based) with base rate ``lr = -lr``, ``W = --warmup_epochs``, ``E = -e``:

- warmup, ``e < W``: ``lr * (e + 1) / W`` (linear, reaching ``lr`` in the warmup's last epoch);
- ``step``: ``lr * gamma ** ((e - W) // --lr_step)``, PyTorch's ``StepLR`` (the seed-002 trainer's
  ``--lr_schedule step --lr_step 50 --lr_gamma 0.9``);
- ``cosine``: ``lr * (1 + cos(pi * (e - W) / (E - W))) / 2``, PyTorch's ``CosineAnnealingLR`` with
  ``T_max = E - W`` and no floor;
- ``plateau``: Keras' ``ReduceLROnPlateau`` on the ``-v`` quantity, factor ``--lr_gamma``, patience
  ``--lr_patience`` epochs, after the warmup;
- ``none``: ``lr`` throughout.

The rate is a pure function of the epoch for every schedule but ``plateau``, so a resumed run gets the
same rates as an uninterrupted one (plateau's wait counter restarts on resume).
"""

from __future__ import annotations

import math

import keras

from mmer_tf.optim.checks import check_schedule


def learning_rate_at(config, epoch: int) -> float:
    """The learning rate of 0-based ``epoch`` (for ``plateau``: before any reduction)."""
    base = float(config.learning_rate)
    warmup = int(getattr(config, "warmup_epochs", 0))
    if epoch < warmup:
        return base * (epoch + 1) / warmup
    since = epoch - warmup
    name = getattr(config, "lr_schedule", "none")
    if name == "step":
        return base * float(config.lr_gamma) ** (since // int(config.lr_step))
    if name == "cosine":
        span = max(int(config.num_epochs) - warmup, 1)
        return base * (1.0 + math.cos(math.pi * since / span)) / 2.0
    return base


class EpochLearningRate(keras.callbacks.Callback):
    """Set the optimiser's rate at the start of every epoch from :func:`learning_rate_at`.

    With ``plateau`` it only drives the warmup (and sets the base rate when the warmup ends); the
    plateau callback owns the rate afterwards.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config

    def on_epoch_begin(self, epoch, logs=None):
        warmup = int(getattr(self.config, "warmup_epochs", 0))
        if self.config.lr_schedule == "plateau" and epoch > warmup:
            return
        self.model.optimizer.learning_rate = learning_rate_at(self.config, epoch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class _WarmPlateau(keras.callbacks.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` that starts watching once the warmup is over."""

    def __init__(self, warmup: int, **kwargs):
        super().__init__(**kwargs)
        self.warmup = warmup

    def on_epoch_end(self, epoch, logs=None):
        if epoch >= self.warmup:
            super().on_epoch_end(epoch, logs)


def schedule_callbacks(config, monitor: str, mode: str) -> list:
    """The callbacks that realise ``--lr_schedule`` and ``--warmup_epochs`` (none for a constant rate)."""
    check_schedule(config)
    name = getattr(config, "lr_schedule", "none")
    warmup = int(getattr(config, "warmup_epochs", 0))
    found = []
    if name != "none" or warmup > 0:
        found.append(EpochLearningRate(config))
    if name == "plateau":
        found.append(_WarmPlateau(warmup, monitor=monitor, mode=mode, factor=float(config.lr_gamma),
                                  patience=int(config.lr_patience), verbose=0))
    return found
