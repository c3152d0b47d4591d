"""Per-step layers for models that predict along time: rate matching, cross-modal attention per step.

Used by ``lfan`` (the Leader-Follower Attention Network of seed 002). Each is a weightless
``keras.layers.Layer`` built from ``keras.ops`` (TensorFlow and JAX) and registered under the package
``mmer_tf`` so a saved model reloads in a fresh process.

- :class:`ResampleToLeader` brings a modality to the leader's time axis. Every row has its own real
  lengths (masks), so the resampling is a per-row ``[T_leader, T_m]`` weight matrix: leader step ``t``
  covers ``[t / L0, (t + 1) / L0)`` of the row, source step ``s`` covers ``[s / Lm, (s + 1) / Lm)``, and
  ``t`` takes the overlap-weighted mean of the source steps it covers ("area" resampling). Equal lengths
  give the identity, a longer source is averaged (no step is skipped), a shorter one is repeated;
  padded steps get zero weight, so padding never changes a real step.
- :class:`MaskedBatchNorm`: channel BatchNormalization with batch statistics over real steps only.
- :class:`StepModalityAttention` is the original's ``MultimodalMultiheadAttention`` core: at every
  time step the modalities' queries attend over the modalities' keys (attention across modalities, not
  across time), the values are added back (its residual ``values += V``) and heads and modalities are
  flattened to ``[B, T, M * modal_dim]``.
"""

from __future__ import annotations

import math

import keras
from keras import ops

_PACKAGE = "mmer_tf"


def _lengths(mask):
    return ops.sum(ops.cast(ops.greater(mask, 0.5), "float32"), axis=-1)


def resample_weights(source_mask, target_mask):
    """``[B, T_target, T_source]`` area-resampling weights (rows of real target steps sum to 1)."""
    target_len = _lengths(target_mask)[:, None]          # [B, 1]
    source_len = _lengths(source_mask)[:, None]
    t = ops.cast(ops.arange(ops.shape(target_mask)[1]), "float32")[None, :]   # [1, T0]
    s = ops.cast(ops.arange(ops.shape(source_mask)[1]), "float32")[None, :]   # [1, Tm]
    t_den = ops.maximum(target_len, 1.0)
    s_den = ops.maximum(source_len, 1.0)
    t_start, t_end = t / t_den, (t + 1.0) / t_den        # [B, T0]
    s_start, s_end = s / s_den, (s + 1.0) / s_den        # [B, Tm]
    overlap = ops.minimum(t_end[:, :, None], s_end[:, None, :]) - ops.maximum(t_start[:, :, None],
                                                                              s_start[:, None, :])
    valid = ops.cast(t < target_len, "float32")[:, :, None] * ops.cast(s < source_len, "float32")[:, None, :]
    overlap = ops.maximum(overlap, 0.0) * valid
    total = ops.sum(overlap, axis=-1, keepdims=True)
    return overlap / ops.maximum(total, 1e-12)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResampleToLeader(keras.layers.Layer):
    """``(x [B, Tm, D], mask_m [B, Tm], leader_mask [B, T0]) -> [B, T0, D]`` (see the module docstring)."""

    def call(self, inputs):
        x, mask, leader_mask = inputs
        weights = resample_weights(mask, leader_mask)
        return ops.matmul(ops.cast(weights, x.dtype), x)

    def compute_output_shape(self, input_shape):
        x_shape, _, leader_shape = input_shape
        return (x_shape[0], leader_shape[1], x_shape[-1])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StepModalityAttention(keras.layers.Layer):
    """``[qkv_1, ..., qkv_M]`` (each ``[B, T, 3 * modal_dim]``) -> ``[B, T, M * modal_dim]``.

    Each projection is split per head into ``(q, k, v)`` of ``modal_dim / num_heads`` (the original's
    ``reshape(B, T, H, 1, 3 * head_dim)`` then ``chunk(3)``); per step and head, softmax over the
    modalities of ``q k^T / sqrt(head_dim)``; output ``attention @ v + v``, laid out
    ``[B, T, H, M, head_dim]`` and flattened (the original's order).
    """

    def __init__(self, num_heads: int, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)

    def call(self, projections):
        projections = list(projections)
        width = projections[0].shape[-1]
        heads = self.num_heads
        head_dim = width // 3 // heads
        batch, steps = ops.shape(projections[0])[0], ops.shape(projections[0])[1]
        per_modality = [ops.reshape(p, (batch, steps, heads, 1, 3 * head_dim)) for p in projections]
        stacked = ops.concatenate(per_modality, axis=3)                    # [B, T, H, M, 3 hd]
        q = stacked[..., :head_dim]
        k = stacked[..., head_dim:2 * head_dim]
        v = stacked[..., 2 * head_dim:]
        scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) / ops.cast(math.sqrt(head_dim), q.dtype)
        attention = ops.softmax(scores, axis=-1)                           # [B, T, H, M, M]
        values = ops.matmul(attention, v) + v                              # [B, T, H, M, hd]
        return ops.reshape(values, (batch, steps, heads * len(projections) * head_dim))

    def compute_output_shape(self, input_shape):
        shapes = list(input_shape)
        width = shapes[0][-1] // 3
        return (shapes[0][0], shapes[0][1], width * len(shapes))

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedBatchNorm(keras.layers.Layer):
    """``(x [B, T, C], float mask [B, T]) -> [B, T, C]``: BatchNormalization whose batch statistics use
    the real steps only (the float mask is the pipeline's), and which hands no Keras mask downstream (the
    models carry their masks as inputs)."""

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.norm = keras.layers.BatchNormalization(momentum=self.momentum, epsilon=self.epsilon,
                                                    dtype=self.dtype_policy, name="norm")

    def build(self, input_shape):
        self.norm.build(input_shape[0])

    def call(self, inputs, training=None):
        x, mask = inputs
        normalised = self.norm(x, training=training, mask=ops.greater(mask, 0.5))
        # a fresh tensor: eager TensorFlow would otherwise carry the inner layer's Keras mask downstream
        return ops.multiply(normalised, ops.cast(1.0, normalised.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


__all__ = ["MaskedBatchNorm", "ResampleToLeader", "StepModalityAttention", "resample_weights"]
