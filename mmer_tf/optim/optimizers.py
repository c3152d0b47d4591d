"""``-opt`` name -> a configured Keras optimiser (momentum, Nesterov, weight decay).

Weight decay (``--weight_decay``) is Keras' decoupled decay for every optimiser (``w -= lr * wd * w``
before the update): ``-opt adam --weight_decay X`` is AdamW, and it is Ranger's own rule too. PyTorch's
``SGD(weight_decay=...)`` instead adds ``wd * w`` to the gradient (L2); docs/SEED_COMPAT.md says so.
"""

from __future__ import annotations

import keras

from mmer_tf.optim.checks import check_optimizer
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
