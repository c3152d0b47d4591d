"""``lmf``: Low-rank Multimodal Fusion (Liu et al., ACL 2018).

LMF computes what TFN's outer product followed by a linear layer computes, without ever forming the
outer product: the weight tensor is decomposed into ``rank`` modality-specific factors, so

    h = Σ_{i=1..r} λ_i · Π_m ([z_m; 1] · W_m^{(i)}) + b

costs ``O(r · Σ_m d_m · d_h)`` instead of ``O(Π_m d_m · d_h)``. The modality embeddings ``z_m`` come from
the same sub-networks as ``tfn``; a dense head maps ``h`` to the outputs.
"""

from __future__ import annotations

import keras
from keras import ops

from mmer_tf.models.ef_lstm import dense_head
from mmer_tf.models.registry import HParam, model_inputs, register
from mmer_tf.models.tfn import SUBNETWORK_HPARAMS, modality_embeddings

_PACKAGE = "mmer_tf"

HPARAMS = {
    **SUBNETWORK_HPARAMS,
    "rank": HParam(4, "rank r of the modality-specific factors"),
    "fusion_dim": HParam(32, "size of the fused representation h"),
}


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
        shapes = list(input_shapes) if isinstance(input_shapes[0], (list, tuple)) else [input_shapes]
        self.factors = [
            self.add_weight(name=f"factor_{index}", shape=(self.rank, int(shape[-1]) + 1, self.output_dim),
                            initializer=FactorInitializer())
            for index, shape in enumerate(shapes)
        ]
        self.fusion_weights = self.add_weight(name="fusion_weights", shape=(self.rank,),
                                              initializer="glorot_normal")
        self.bias = self.add_weight(name="bias", shape=(self.output_dim,), initializer="zeros")

    def call(self, embeddings):
        embeddings = list(embeddings) if isinstance(embeddings, (list, tuple)) else [embeddings]
        product = None
        for z, factor in zip(embeddings, self.factors):
            z1 = ops.concatenate([z, ops.ones_like(z[:, :1])], axis=-1)
            projected = ops.einsum("bd,rdo->rbo", z1, ops.cast(factor, z1.dtype))
            product = projected if product is None else product * projected
        weights = ops.cast(self.fusion_weights, product.dtype)
        return ops.einsum("r,rbo->bo", weights, product) + ops.cast(self.bias, product.dtype)

    def compute_output_shape(self, input_shapes):
        first = input_shapes[0] if isinstance(input_shapes[0], (list, tuple)) else input_shapes
        return (first[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "rank": self.rank, "output_dim": self.output_dim}


@register("lmf", hparams=HPARAMS, needs_aligned=False,
          paper="Liu, Shen, Lakshminarasimhan, Liang, Zadeh, Morency. Efficient Low-rank Multimodal Fusion "
                "with Modality-Specific Factors. ACL 2018")
def build_lmf(dims, num_outputs, config, hp):
    inputs = model_inputs(dims)
    fused = LowRankFusion(int(hp["rank"]), int(hp["fusion_dim"]), name="low_rank_fusion")(
        modality_embeddings(inputs, dims, config, hp))
    return keras.Model(inputs, dense_head(fused, num_outputs, config), name="lmf")
