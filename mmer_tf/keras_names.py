"""The loss and activation names Keras resolves, known without importing Keras.

``-lf``/``-a`` are Keras names (``keras.losses.get`` / ``keras.activations.get`` look a string up in a
fixed table, nothing else; ``LossFunctionWrapper`` is in that table but cannot be built from its name). Keeping the two tables here lets ``main.py`` refuse a typo in one line before it
pays seconds and ~800 MB for the backend import; ``tests/test_fast_flags.py`` checks them against the
installed Keras, so an upgrade that adds or drops a name fails there rather than here.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError

LOSSES = frozenset((
    "BCE", "BinaryCrossentropy", "BinaryFocalCrossentropy", "CTC", "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy", "CategoricalHinge", "Circle", "CosineSimilarity", "Dice", "Hinge", "Huber",
    "KLD", "KLDivergence", "LogCosh", "Loss", "MAE", "MAPE", "MSE", "MSLE",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError", "MeanSquaredLogarithmicError",
    "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge", "Tversky", "bce", "binary_crossentropy",
    "binary_focal_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy",
    "categorical_hinge", "circle", "cosine_similarity", "ctc", "dice", "hinge", "huber", "kl_divergence", "kld",
    "log_cosh", "mae", "mape", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
    "mean_squared_logarithmic_error", "mse", "msle", "poisson", "sparse_categorical_crossentropy",
    "squared_hinge", "tversky",
))

ACTIVATIONS = frozenset((
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish",
    "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu",
    "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
    "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink", "threshold",
))


def check_loss_name(name: str) -> str:
    """``name`` if Keras knows the loss, else a one-line user error (run before any work)."""
    if name not in LOSSES:
        raise MmerError(f"-lf/--loss_function: unknown Keras loss {name!r} (e.g. mean_absolute_error, "
                        "mean_squared_error, binary_crossentropy)")
    return name


def check_activation_name(name: str) -> str:
    """``name`` if Keras knows the activation, else a one-line user error (run before any work)."""
    if name not in ACTIVATIONS:
        raise MmerError(f"-a/--final_activ: unknown Keras activation {name!r} (e.g. linear, sigmoid, softmax)")
    return name
