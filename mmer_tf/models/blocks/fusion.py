"""Multiplicative fusion layers: TFN's tensor fusion (and the dense layer on it, computed without forming it)
and LMF's low-rank fusion with its initialiser.

All take one embedding per modality (``[B, d_m]`` each, any number of modalities) and are registered
under the package ``mmer_tf`` so a saved ``tfn`` / ``lmf`` model reloads in any process.
"""

from __future__ import annotations

import math

import keras
from keras import ops

_PACKAGE = "mmer_tf"


def _embeddings(embeddings) -> list:
    """The layer's input as one tensor per modality (a single modality may come as the bare tensor)."""
    return list(embeddings) if isinstance(embeddings, (list, tuple)) else [embeddings]


def _shapes(input_shapes) -> list:
    """The input shapes as one shape per modality (a single modality's shape is itself a tuple)."""
    return list(input_shapes) if isinstance(input_shapes[0], (list, tuple)) else [input_shapes]


def _with_one(h):
    """``[h; 1]``: the constant the fusions append so that every lower-order interaction stays in the product."""
    return ops.concatenate([h, ops.ones_like(h[:, :1])], axis=-1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TensorFusion(keras.layers.Layer):
    """``[h_1, ..., h_M]`` (each ``[B, d_m]``) -> flattened ``[h_1; 1] ⊗ ... ⊗ [h_M; 1]``, ``[B, Π(d_m + 1)]``."""

    def call(self, embeddings):
        fused = None
        for h in _embeddings(embeddings):
            h1 = _with_one(h)
            if fused is None:
                fused = h1
                continue
            outer = ops.expand_dims(fused, -1) * ops.expand_dims(h1, 1)  # [B, n, d+1]
            fused = ops.reshape(outer, (-1, outer.shape[1] * outer.shape[2]))
        return fused

    def compute_output_shape(self, input_shapes):
        shapes = _shapes(input_shapes)
        return (shapes[0][0], math.prod(int(s[-1]) + 1 for s in shapes))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TensorFusionDense(keras.layers.Layer):
    """``Dense(units)(TensorFusion()(h))``, the same weights and function, without forming the outer product.

    Why: the tensor is ``Π(d_m + 1)`` wide per segment (140,481 at TFN's defaults on CMU-MOSEI, 282,897 at
    MMSA's), so forming it writes and reads back tens of MB per batch, which bounded TFN's speed on the CPU
    (under JAX it was 70 % of an inference step: benchmarks/README.md). The first modality is contracted
    with the kernel in one matrix product (``[B, d_1 + 1] x [d_1 + 1, rest]``, the kernel's own row-major
    layout, no copy), then each next modality with what is left, per segment. The kernel is the dense
    layer's ``[Π(d_m + 1), units]`` (rows in the tensor's flattening order), initialised as Keras' ``Dense``.
    """

    def __init__(self, units: int, activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shapes):
        self.widths = [int(shape[-1]) + 1 for shape in _shapes(input_shapes)]
        self.kernel = self.add_weight(name="kernel", shape=(math.prod(self.widths), self.units),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)

    def call(self, embeddings):
        ones = [_with_one(h) for h in _embeddings(embeddings)]
        kernel = ops.cast(self.kernel, ones[0].dtype)
        left = ops.matmul(ones[0], ops.reshape(kernel, (self.widths[0], -1)))  # [B, w_2 ... w_M * units]
        for h, width in zip(ones[1:], self.widths[1:]):
            left = ops.einsum("bj,bjr->br", h, ops.reshape(left, (-1, width, left.shape[-1] // width)))
        return self.activation(left + ops.cast(self.bias, left.dtype))

    def compute_output_shape(self, input_shapes):
        return (_shapes(input_shapes)[0][0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FactorInitializer(keras.initializers.Initializer):
    """Glorot-normal feature rows and a bias row (the one for the appended 1) of ones.

    Why: a Glorot draw makes every projection ``[z_m; 1] W_m`` small, and the fused vector is their
    product, so at start it is the product of M small numbers and so is the gradient reaching each
    factor (it is scaled by the other modalities' projections): the low-rank product never leaves the
    origin in a short training run. With the bias row at 1 every projection starts near 1 + a linear
    term, so the product starts near ``1 + Σ_m (linear term of m)``: an additive late fusion whose
    gradients reach every modality at full strength, from which the multiplicative (bi- and trimodal)
    terms grow as training needs them. The parameterisation is the paper's; only the starting point moves.
    """

    def __init__(self, seed=None):
        self.seed = seed
        self._glorot = keras.initializers.GlorotNormal(seed=seed)

    def __call__(self, shape, dtype=None):
        rank, rows, width = shape
        features = self._glorot((rank, rows - 1, width), dtype=dtype)
        return ops.concatenate([features, ops.ones((rank, 1, width), dtype=features.dtype)], axis=1)

    def get_config(self):
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LowRankFusion(keras.layers.Layer):
    """``[z_1, ..., z_M]`` (each ``[B, d_m]``) -> ``[B, output_dim]`` through rank-``r`` factors."""

    def __init__(self, rank: int, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.rank = int(rank)
        self.output_dim = int(output_dim)

    def build(self, input_shapes):
        shapes = _shapes(input_shapes)
        self.factors = [
            self.add_weight(name=f"factor_{index}", shape=(self.rank, int(shape[-1]) + 1, self.output_dim),
                            initializer=FactorInitializer())
            for index, shape in enumerate(shapes)
        ]
        self.fusion_weights = self.add_weight(name="fusion_weights", shape=(self.rank,),
                                              initializer="glorot_normal")
        self.bias = self.add_weight(name="bias", shape=(self.output_dim,), initializer="zeros")

    def call(self, embeddings):
        product = None
        for z, factor in zip(_embeddings(embeddings), self.factors):
            z1 = _with_one(z)
            projected = ops.einsum("bd,rdo->rbo", z1, ops.cast(factor, z1.dtype))
            product = projected if product is None else product * projected
        weights = ops.cast(self.fusion_weights, product.dtype)
        return ops.einsum("r,rbo->bo", weights, product) + ops.cast(self.bias, product.dtype)

    def compute_output_shape(self, input_shapes):
        return (_shapes(input_shapes)[0][0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "rank": self.rank, "output_dim": self.output_dim}


__all__ = ["FactorInitializer", "LowRankFusion", "TensorFusion", "TensorFusionDense"]
