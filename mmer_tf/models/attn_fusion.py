"""``attn_fusion``: multi-head attention fusion of modality embeddings, in the spirit of M2FNet.

M2FNet (Chudasama et al., CVPR-W 2022) encodes each modality separately and fuses them with stacked
multi-head attention layers in which the text representation attends to the other modalities. Here:

1. each modality is projected to width ``d`` per step and, optionally, refined by ``intra_layers``
   self-attention blocks over its own (masked) steps;
2. its real steps are mean-pooled into one embedding, giving a small set of modality tokens ``[B, M, d]``;
3. ``fusion_layers`` blocks let the *primary* token (text when present, else the first modality) attend
   over all modality tokens, with a residual connection and LayerNorm, followed by a feed-forward block;
4. the fused primary token and the mean of all tokens are concatenated and a dense head predicts.

The model works at segment level, so a dialogue corpus (one utterance = one segment, sequences of length 1)
and MOSEI segments use the same code; any 1-3 modalities, aligned or not, each with its own mask.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError
from mmer_tf.models.registry import HParam, model_inputs, register

HPARAMS = {
    "d": HParam(64, "width of every modality token", minimum=1),
    "heads": HParam(4, "attention heads (must divide d)", minimum=1),
    "intra_layers": HParam(0, "self-attention blocks over each modality's steps before pooling (0: none, the default)"),
    "fusion_layers": HParam(2, "stacked multi-head attention fusion blocks"),
    "attn_dropout": HParam(0.1, "dropout on attention weights"),
}


def attention_block(query, keys, attention_mask, *, width: int, heads: int, dropout: float, name: str):
    """Post-LayerNorm block: ``LN(q + MHA(q, k)) -> LN(x + FFN(x))``."""
    import keras

    attended = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=width // heads, dropout=dropout,
                                               name=f"{name}_attention")(query, keys, keys,
                                                                        attention_mask=attention_mask)
    x = keras.layers.LayerNormalization(name=f"{name}_ln1")(keras.layers.Add(name=f"{name}_res1")([query, attended]))
    h = keras.layers.Dense(2 * width, activation="relu", name=f"{name}_ffn1")(x)
    h = keras.layers.Dropout(dropout, name=f"{name}_ffn_dropout")(h)
    h = keras.layers.Dense(width, name=f"{name}_ffn2")(h)
    return keras.layers.LayerNormalization(name=f"{name}_ln2")(keras.layers.Add(name=f"{name}_res2")([x, h]))


def check_hparams(hp) -> None:
    """The token width must split into the attention heads."""
    if int(hp["d"]) % int(hp["heads"]):
        raise MmerError(f"--attn_fusion_heads: {hp['heads']} heads do not divide the width "
                        f"--attn_fusion_d={hp['d']}; choose a divisor of {hp['d']}")


@register("attn_fusion", hparams=HPARAMS, needs_aligned=False, check=check_hparams,
          paper="In the spirit of Chudasama et al. M2FNet: Multi-modal Fusion Network for Emotion Recognition "
                "in Conversation. CVPR Workshops 2022")
def build_attn_fusion(dims, num_outputs, config, hp):
    import keras
    from mmer_tf.models.blocks.attention import KeyPaddingMask, StackTokens, TokenMean
    from mmer_tf.models.blocks.encoders import dense_head
    from mmer_tf.models.layers import MaskedMeanPooling, ZeroPadding

    inputs = model_inputs(dims)
    width, heads = int(hp["d"]), int(hp["heads"])
    if width % heads:
        raise ValueError(f"attn_fusion: d={width} is not divisible by heads={heads}")
    dropout = float(hp["attn_dropout"])
    modalities = list(dims)
    tokens = []
    for m in modalities:
        mask = inputs[f"{m}_mask"]
        x = ZeroPadding(name=f"{m}_zeroed")([inputs[m], mask])
        x = keras.layers.Dense(width, name=f"{m}_projection")(x)
        if int(hp["intra_layers"]) > 0:
            self_mask = KeyPaddingMask(name=f"{m}_attention_mask")([mask, mask])
            for index in range(int(hp["intra_layers"])):
                x = attention_block(x, x, self_mask, width=width, heads=heads, dropout=dropout,
                                    name=f"{m}_intra{index + 1}")
        tokens.append(MaskedMeanPooling(name=f"{m}_token")([x, mask]))
    stacked = StackTokens(name="modality_tokens")(tokens)
    primary = "text" if "text" in modalities else modalities[0]
    query = keras.layers.Reshape((1, width), name="primary_query")(tokens[modalities.index(primary)])
    for index in range(int(hp["fusion_layers"])):
        query = attention_block(query, stacked, None, width=width, heads=heads, dropout=dropout,
                                name=f"fusion{index + 1}")
    fused = keras.layers.Concatenate(name="fused")(
        [keras.layers.Flatten(name="fused_primary")(query), TokenMean(name="token_mean")(stacked)])
    return keras.Model(inputs, dense_head(fused, num_outputs, config), name="attn_fusion")
