"""``lmf``: Low-rank Multimodal Fusion (Liu et al., ACL 2018).

LMF computes what TFN's outer product followed by a linear layer computes, without ever forming the
outer product: the weight tensor is decomposed into ``rank`` modality-specific factors, so

    h = Σ_{i=1..r} λ_i · Π_m ([z_m; 1] · W_m^{(i)}) + b

costs ``O(r · Σ_m d_m · d_h)`` instead of ``O(Π_m d_m · d_h)``. The modality embeddings ``z_m`` come from
the same sub-networks as ``tfn``; a dense head maps ``h`` to the outputs.
"""

from __future__ import annotations

from mmer_tf.models.blocks.hparams import SUBNETWORK_HPARAMS
from mmer_tf.models.registry import HParam, model_inputs, register

HPARAMS = {
    **SUBNETWORK_HPARAMS,
    "rank": HParam(4, "rank r of the modality-specific factors", minimum=1),
    "fusion_dim": HParam(32, "size of the fused representation h", minimum=1),
}


@register("lmf", hparams=HPARAMS, needs_aligned=False,
          paper="Liu, Shen, Lakshminarasimhan, Liang, Zadeh, Morency. Efficient Low-rank Multimodal Fusion "
                "with Modality-Specific Factors. ACL 2018")
def build_lmf(dims, num_outputs, config, hp):
    import keras
    from mmer_tf.models.blocks.encoders import dense_head, modality_embeddings
    from mmer_tf.models.blocks.fusion import LowRankFusion

    inputs = model_inputs(dims)
    fused = LowRankFusion(int(hp["rank"]), int(hp["fusion_dim"]), name="low_rank_fusion")(
        modality_embeddings(inputs, dims, config, hp))
    return keras.Model(inputs, dense_head(fused, num_outputs, config), name="lmf")
