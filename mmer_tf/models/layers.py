"""Small mask-handling layers and ``keras.ops`` helpers shared by the fusion models.

The pipeline hands every model float masks (``m_mask``: ``[B, T]``, 1.0 on real steps, 0.0 on padding;
see docs/CONVENTIONS.md). Keras recurrent and normalisation layers want boolean masks, pooling needs to
ignore padding, and early-fusion models need one mask for several modalities. These layers do that in
one place so every model treats padding the same way.

They are plain ``keras.layers.Layer`` subclasses built from ``keras.ops`` (TensorFlow and JAX backends),
registered with :func:`keras.saving.register_keras_serializable` under the package ``mmer_tf`` so a
``.keras`` file that uses them reloads as soon as this module is imported (``mmer_tf.train.load_model``
does that).
"""

from __future__ import annotations

import keras
from keras import ops

_PACKAGE = "mmer_tf"


# ----------------------------------------------------------------------------------------------
# functional helpers (usable inside any layer's ``call``)
# ----------------------------------------------------------------------------------------------

def float_mask_to_bool(mask):
    """``[B, T]`` float mask (1.0 real / 0.0 padding) -> boolean mask; threshold 0.5 tolerates float16."""
    return ops.greater(mask, 0.5)


def masked_mean(x, mask, axis: int = 1):
    """Mean of ``x`` ``[B, T, D]`` over real steps only; an all-padding row gives zeros, not NaN."""
    weights = ops.cast(mask, x.dtype)
    weights = ops.expand_dims(weights, -1)
    total = ops.sum(x * weights, axis=axis)
    count = ops.maximum(ops.sum(weights, axis=axis), ops.cast(1.0, x.dtype))
    return total / count


def masked_max(x, mask, axis: int = 1):
    """Max of ``x`` ``[B, T, D]`` over real steps only; an all-padding row gives zeros."""
    keep = ops.expand_dims(float_mask_to_bool(mask), -1)
    lowest = ops.cast(-65000.0 if x.dtype == "float16" else -3.0e38, x.dtype)
    best = ops.max(ops.where(keep, x, lowest), axis=axis)
    any_real = ops.any(keep, axis=axis)
    return ops.where(any_real, best, ops.zeros_like(best))


def zero_padding(x, mask):
    """``x`` with padded steps set to exactly 0 (so sums and attention scores ignore them)."""
    return x * ops.expand_dims(ops.cast(mask, x.dtype), -1)


def sequence_lengths(mask):
    """Number of real steps per row of a ``[B, T]`` float mask, as int32 ``[B]``."""
    return ops.cast(ops.sum(ops.cast(float_mask_to_bool(mask), "int32"), axis=-1), "int32")


# ----------------------------------------------------------------------------------------------
# layers (for functional models: they serialise inside .keras files)
# ----------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskToBool(keras.layers.Layer):
    """Float mask ``[B, T]`` -> boolean mask, to pass as ``mask=`` to LSTM/GRU/BatchNormalization."""

    def call(self, mask):
        return float_mask_to_bool(mask)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, mask):
        return keras.KerasTensor(mask.shape, dtype="bool")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MergeMasks(keras.layers.Layer):
    """Several float masks on one time axis -> one boolean mask.

    ``mode="all"`` (default): a step is real only when it is real in every modality (early fusion
    concatenates features per step, so a step missing in one modality is padding for the fused
    vector). ``mode="any"``: real when real in at least one modality.
    """

    def __init__(self, mode: str = "all", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("all", "any"):
            raise ValueError(f"MergeMasks mode must be 'all' or 'any', got {mode!r}")
        self.mode = mode

    def call(self, masks):
        masks = list(masks) if isinstance(masks, (list, tuple)) else [masks]
        merged = float_mask_to_bool(masks[0])
        for mask in masks[1:]:
            step = float_mask_to_bool(mask)
            merged = ops.logical_and(merged, step) if self.mode == "all" else ops.logical_or(merged, step)
        return merged

    def compute_output_spec(self, masks):
        first = masks[0] if isinstance(masks, (list, tuple)) else masks
        return keras.KerasTensor(first.shape, dtype="bool")

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedMeanPooling(keras.layers.Layer):
    """``([B, T, D], float mask [B, T]) -> [B, D]``: mean over real steps (zeros for an empty row)."""

    def call(self, inputs):
        x, mask = inputs
        return masked_mean(x, mask)

    def compute_output_shape(self, input_shape):
        x_shape = input_shape[0]
        return (x_shape[0], x_shape[-1])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedMaxPooling(keras.layers.Layer):
    """``([B, T, D], float mask [B, T]) -> [B, D]``: max over real steps (zeros for an empty row)."""

    def call(self, inputs):
        x, mask = inputs
        return masked_max(x, mask)

    def compute_output_shape(self, input_shape):
        x_shape = input_shape[0]
        return (x_shape[0], x_shape[-1])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ZeroPadding(keras.layers.Layer):
    """``([B, T, D], float mask [B, T]) -> [B, T, D]`` with padded steps set to 0."""

    def call(self, inputs):
        x, mask = inputs
        return zero_padding(x, mask)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


__all__ = [
    "MaskToBool",
    "MaskedMaxPooling",
    "MaskedMeanPooling",
    "MergeMasks",
    "ZeroPadding",
    "float_mask_to_bool",
    "masked_max",
    "masked_mean",
    "sequence_lengths",
    "zero_padding",
]
