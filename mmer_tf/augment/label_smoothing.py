"""``--label_smoothing``: the loss object to compile with, smoothing targets exactly as Keras defines it.

Keras' categorical cross-entropy with smoothing ``s`` trains on ``y * (1 - s) + s / K`` (K classes); the
binary one on ``y * (1 - s) + s / 2``. Any other loss has no smoothing, so asking for it is an error.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError

# loss name -> its Keras class (looked up when used: ``main.py`` checks the augmentation flags before it
# imports Keras)
_SMOOTHABLE = {
    "categorical_crossentropy": "CategoricalCrossentropy",
    "binary_crossentropy": "BinaryCrossentropy",
}


def training_loss(name: str, config):
    """``name`` itself without smoothing, else the Keras loss object with ``label_smoothing``."""
    smoothing = float(getattr(config, "label_smoothing", 0.0))
    if smoothing <= 0:
        return name
    if smoothing >= 1:
        raise MmerError(f"--label_smoothing must be in [0, 1), got {smoothing:g}")
    if name not in _SMOOTHABLE:
        raise MmerError(f"--label_smoothing {smoothing:g}: applies to {' and '.join(_SMOOTHABLE)} only, "
                        f"this run trains with {name}")
    import keras

    return getattr(keras.losses, _SMOOTHABLE[name])(label_smoothing=smoothing, name=name)
