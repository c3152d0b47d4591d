"""The checks of the optimiser and schedule flags, and the schedule names, without Keras.

``main.py`` runs them before it imports the backend (a typo answers in well under a second); the modules
that build the Keras objects (:mod:`optimizers`, :mod:`schedules`) call them again and re-export them.
"""

from __future__ import annotations

from mmer_tf.config import OPTIMIZERS
from mmer_tf.errors import MmerError

LR_SCHEDULES = ("none", "step", "cosine", "plateau")


def check_optimizer(config) -> None:
    """One-line errors for impossible optimiser settings (run before any data is read)."""
    name = str(config.optimizer).lower()
    if name not in OPTIMIZERS:
        raise MmerError(f"-opt/--optimizer: unknown optimizer {config.optimizer!r}; choose one of "
                        f"{', '.join(OPTIMIZERS)}")
    if not config.learning_rate > 0:
        raise MmerError(f"-lr/--learning_rate must be > 0, got {config.learning_rate}")
    momentum = float(getattr(config, "momentum", 0.0))
    if float(getattr(config, "weight_decay", 0.0)) < 0:
        raise MmerError(f"--weight_decay must be >= 0, got {config.weight_decay:g}")
    if not 0.0 <= momentum < 1.0:
        raise MmerError(f"--momentum must be in [0, 1), got {momentum:g}")
    if bool(getattr(config, "nesterov", False)) and name != "sgd":
        raise MmerError("--nesterov applies to -opt sgd only")
    if momentum and name not in ("sgd", "rmsprop"):
        raise MmerError(f"--momentum applies to -opt sgd and rmsprop, not -opt {name}")


def check_schedule(config) -> None:
    """One-line errors for impossible schedule settings (run before any work)."""
    name = getattr(config, "lr_schedule", "none")
    if name not in LR_SCHEDULES:
        raise MmerError(f"--lr_schedule: unknown schedule {name!r}; choose one of {', '.join(LR_SCHEDULES)}")
    if int(getattr(config, "warmup_epochs", 0)) < 0:
        raise MmerError(f"--warmup_epochs must be >= 0, got {config.warmup_epochs}")
    if name == "step" and int(config.lr_step) < 1:
        raise MmerError(f"--lr_step must be >= 1 epoch, got {config.lr_step}")
    if name in ("step", "plateau") and not 0.0 < float(config.lr_gamma) <= 1.0:
        raise MmerError(f"--lr_gamma must be in (0, 1], got {config.lr_gamma:g}")
    if name == "plateau" and int(config.lr_patience) < 0:
        raise MmerError(f"--lr_patience must be >= 0, got {config.lr_patience}")
