"""``-opt`` name -> a configured Keras optimiser (momentum, Nesterov, weight decay).

Weight decay (``--weight_decay``) is Keras' decoupled decay for every optimiser (``w -= lr * wd * w``
before the update): ``-opt adam --weight_decay X`` is AdamW, and it is Ranger's own rule too. PyTorch's
``SGD(weight_decay=...)`` instead adds ``wd * w`` to the gradient (L2); docs/SEED_COMPAT.md says so.
"""

from __future__ import annotations

import keras

from mmer_tf.errors import MmerError
from mmer_tf.optim.ranger import Ranger

_FACTORIES = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "adagrad": keras.optimizers.Adagrad,
    "adadelta": keras.optimizers.Adadelta,
    "rmsprop": keras.optimizers.RMSprop,
    "ranger": Ranger,
}
OPTIMIZER_NAMES = tuple(_FACTORIES)


def check_optimizer(config) -> None:
    """One-line errors for impossible optimiser settings (run before any data is read)."""
    name = str(config.optimizer).lower()
    if name not in _FACTORIES:
        raise MmerError(f"-opt/--optimizer: unknown optimizer {config.optimizer!r}; choose one of "
                        f"{', '.join(_FACTORIES)}")
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


def build_optimizer(config):
    """The ``-opt`` optimiser at ``-lr``, with ``--momentum``/``--nesterov`` (sgd, rmsprop) and ``--weight_decay``."""
    check_optimizer(config)
    name = str(config.optimizer).lower()
    kwargs = {"learning_rate": float(config.learning_rate)}
    decay = float(getattr(config, "weight_decay", 0.0))
    if decay > 0:
        kwargs["weight_decay"] = decay
    if name == "sgd":
        kwargs.update(momentum=float(config.momentum), nesterov=bool(config.nesterov))
    elif name == "rmsprop":
        kwargs["momentum"] = float(config.momentum)
    return _FACTORIES[name](**kwargs)
