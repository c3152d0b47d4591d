"""Attention-side layers: MulT's position embedding, key-padding masks, last-real-step pooling, tokens.

Used by ``mult`` and ``attn_fusion`` (and any model that attends over masked sequences). Each is a
``keras.layers.Layer`` built from ``keras.ops`` and registered under the package ``mmer_tf``.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from mmer_tf.models.layers import float_mask_to_bool

_PACKAGE = "mmer_tf"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ScaledPositionEmbedding(keras.layers.Layer):
    """``x * sqrt(d) + sinusoid(position)``: the transformer input of MulT, positions from each row's start."""

    def call(self, x):
        width = x.shape[-1]
        steps = ops.shape(x)[1]
        positions = ops.cast(ops.arange(steps), "float32")[:, None]
        half = width // 2
        rates = ops.exp(ops.cast(ops.arange(half), "float32") * (-math.log(10000.0) / max(half - 1, 1)))
        angles = positions * rates[None, :]
        table = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
        if width % 2:
            table = ops.concatenate([table, ops.zeros_like(table[:, :1])], axis=-1)
        return x * ops.cast(math.sqrt(width), x.dtype) + ops.cast(table, x.dtype)[None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class KeyPaddingMask(keras.layers.Layer):
    """``(query float mask [B, Tq], key float mask [B, Tk]) -> bool [B, Tq, Tk]``: attend to real keys only."""

    def call(self, inputs):
        query_mask, key_mask = inputs
        keys = ops.expand_dims(float_mask_to_bool(key_mask), 1)  # [B, 1, Tk]
        rows = ops.expand_dims(ops.ones_like(query_mask), -1) > 0  # [B, Tq, 1], all True
        return ops.logical_and(rows, keys)

    def compute_output_spec(self, inputs):
        query_mask, key_mask = inputs
        return keras.KerasTensor((query_mask.shape[0], query_mask.shape[1], key_mask.shape[1]), dtype="bool")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LastRealStep(keras.layers.Layer):
    """``([B, T, D], float mask [B, T]) -> [B, D]``: the element at each row's last real step.

    The weight of step ``t`` is 1 exactly where the mask is 1 and the running count of real steps equals
    the row's total, which works for any (symbolic) T and leaves padding out. An empty row gives zeros.
    """

    def call(self, inputs):
        x, mask = inputs
        real = ops.cast(float_mask_to_bool(mask), x.dtype)
        running = ops.cumsum(real, axis=1)
        total = ops.sum(real, axis=1, keepdims=True)
        pick = real * ops.cast(ops.equal(running, total), x.dtype)
        return ops.sum(x * ops.expand_dims(pick, -1), axis=1)

    def compute_output_shape(self, input_shape):
        x_shape = input_shape[0]
        return (x_shape[0], x_shape[-1])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StackTokens(keras.layers.Layer):
    """``[e_1, ..., e_M]`` (each ``[B, d]``) -> ``[B, M, d]``."""

    def call(self, embeddings):
        embeddings = list(embeddings) if isinstance(embeddings, (list, tuple)) else [embeddings]
        return ops.stack(embeddings, axis=1)

    def compute_output_shape(self, input_shapes):
        shapes = list(input_shapes) if isinstance(input_shapes[0], (list, tuple)) else [input_shapes]
        return (shapes[0][0], len(shapes), shapes[0][-1])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TokenMean(keras.layers.Layer):
    """``[B, M, d] -> [B, d]``: the mean over modality tokens (none of them is padding)."""

    def call(self, tokens):
        return ops.mean(tokens, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


__all__ = ["KeyPaddingMask", "LastRealStep", "ScaledPositionEmbedding", "StackTokens", "TokenMean"]
