"""``mult``: Multimodal Transformer (Tsai et al., ACL 2019), word-aligned and unaligned.

Architecture (one branch per *target* modality ``α``):

1. temporal convolution: ``Conv1D(d, k_m)`` projects every modality ``m`` to a common width ``d``; the
   kernel sizes are the paper's for CMU-MOSEI (Table 5, L/V/A = 1/3/3): on the unaligned view audio
   (100 Hz) and vision (30 Hz) carry their signal spread over hundreds of noisy frames, and a kernel of 1
   leaves every frame alone -- the two-epoch sample run then stalls (dominant AUC 0.59 vs 0.64 with 3);
2. crossmodal transformers ``β → α`` for every other modality ``β``: ``layers`` pre-LayerNorm blocks whose
   queries come from ``α`` and whose keys/values are the (position-embedded) low-level features of ``β``;
   with three modalities that is all six directions;
3. the ``β → α`` outputs are concatenated and read by a self-attention transformer;
4. the element at ``α``'s last real step is taken; the branches are concatenated, passed through a
   residual ``Dense-ReLU-Dense`` block and the output layer.

Unaligned input: every modality keeps its own length and its own mask; attention only ever looks at the
*keys'* real steps, positions are counted from each sequence's own start, and step 4 picks each target's
own last real step, so modalities at different rates fuse with no alignment. The same code runs on the
word-aligned view (all lengths equal).

Fewer modalities: with two, each branch has one crossmodal transformer; with one there is no source, so the
branch degenerates to a self-attention transformer over the modality (a plain Transformer encoder).

Padded steps never change a prediction: inputs are zeroed on padding before the convolution (so a kernel
wider than 1 sees zeros beyond the end, as with 'same' padding), keys on padding are masked out of every
attention, and only real steps are pooled.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError
from mmer_tf.models.registry import HParam, model_inputs, register

HPARAMS = {
    "d": HParam(30, "common model width d after the temporal convolutions", minimum=1),
    "layers": HParam(5, "blocks in each crossmodal transformer", minimum=1),
    "mem_layers": HParam(3, "minimum blocks in each self-attention transformer (uses max(layers, mem_layers))"),
    "heads": HParam(5, "attention heads (d and the concatenated width must be divisible by it)", minimum=1),
    "kernel_text": HParam(1, "temporal convolution kernel for text (paper, CMU-MOSEI: 1 or 3)", minimum=1),
    "kernel_audio": HParam(3, "temporal convolution kernel for audio (paper, CMU-MOSEI: 3)", minimum=1),
    "kernel_vision": HParam(3, "temporal convolution kernel for vision (paper, CMU-MOSEI: 3)", minimum=1),
    "kernel": HParam(0, "if > 0, one kernel size for every modality (the authors' code uses 1); "
                        "0 keeps kernel_text/audio/vision"),
    "attn_dropout": HParam(0.1, "dropout on attention weights"),
    "relu_dropout": HParam(0.1, "dropout after the feed-forward ReLU"),
    "res_dropout": HParam(0.1, "dropout on each residual branch"),
    "embed_dropout": HParam(0.25, "dropout on the position-embedded inputs of each transformer"),
    "out_dropout": HParam(0.0, "dropout inside the output residual block"),
}


def check_hparams(hp) -> None:
    """Every attention width (``d``, and ``d`` times the number of sources) must split into ``heads``."""
    if int(hp["d"]) % int(hp["heads"]):
        raise MmerError(f"--mult_heads: {hp['heads']} heads do not divide the width --mult_d={hp['d']}; "
                        f"choose a divisor of {hp['d']}")


def conv_kernel(hp, modality: str) -> int:
    """The temporal convolution's kernel size for ``modality``: ``kernel`` when set (> 0), else ``kernel_<m>``."""
    shared = int(hp["kernel"])
    if shared < 0:
        raise MmerError(f"--mult_kernel: expected 0 (per-modality kernels) or a size >= 1, got {shared}")
    size = shared if shared > 0 else int(hp[f"kernel_{modality}"])
    if size < 1:
        raise MmerError(f"--mult_kernel_{modality}: the convolution kernel size must be >= 1, got {size}")
    return size


def transformer(query, query_mask, source=None, source_mask=None, *, layers: int, hp, name: str):
    """MulT's pre-LayerNorm transformer encoder; crossmodal when ``source`` is given, else self-attention.

    ``query``: ``[B, Tq, w]``, ``source``: ``[B, Tk, w_s]`` (keys/values), masks float ``[B, T]``.
    """
    import keras
    from mmer_tf.models.blocks.attention import KeyPaddingMask, ScaledPositionEmbedding

    width = query.shape[-1]
    heads = int(hp["heads"])
    if width % heads:
        raise ValueError(f"mult: width {width} is not divisible by heads={heads}")
    crossmodal = source is not None
    embed_dropout = float(hp["embed_dropout"])
    x = ScaledPositionEmbedding(name=f"{name}_pos")(query)
    x = keras.layers.Dropout(embed_dropout, name=f"{name}_embed_dropout")(x)
    if crossmodal:
        kv = ScaledPositionEmbedding(name=f"{name}_source_pos")(source)
        kv = keras.layers.Dropout(embed_dropout, name=f"{name}_source_dropout")(kv)
        attention_mask = KeyPaddingMask(name=f"{name}_attention_mask")([query_mask, source_mask])
    else:
        attention_mask = KeyPaddingMask(name=f"{name}_attention_mask")([query_mask, query_mask])
    for index in range(layers):
        block = f"{name}_block{index + 1}"
        q = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{block}_ln_query")(x)
        if crossmodal:
            k = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{block}_ln_source")(kv)
        else:
            k = q
        attended = keras.layers.MultiHeadAttention(
            num_heads=heads, key_dim=width // heads, dropout=float(hp["attn_dropout"]), name=f"{block}_attention",
        )(q, k, k, attention_mask=attention_mask)
        attended = keras.layers.Dropout(float(hp["res_dropout"]), name=f"{block}_attention_dropout")(attended)
        x = keras.layers.Add(name=f"{block}_attention_residual")([x, attended])
        h = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{block}_ln_ffn")(x)
        h = keras.layers.Dense(4 * width, activation="relu", name=f"{block}_ffn1")(h)
        h = keras.layers.Dropout(float(hp["relu_dropout"]), name=f"{block}_relu_dropout")(h)
        h = keras.layers.Dense(width, name=f"{block}_ffn2")(h)
        h = keras.layers.Dropout(float(hp["res_dropout"]), name=f"{block}_ffn_dropout")(h)
        x = keras.layers.Add(name=f"{block}_ffn_residual")([x, h])
    return keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_ln_out")(x)


@register("mult", hparams=HPARAMS, needs_aligned=False, check=check_hparams,
          paper="Tsai, Bai, Liang, Kolter, Morency, Salakhutdinov. Multimodal Transformer for Unaligned "
                "Multimodal Language Sequences. ACL 2019")
def build_mult(dims, num_outputs, config, hp):
    import keras
    from mmer_tf.models.blocks.attention import LastRealStep
    from mmer_tf.models.layers import ZeroPadding

    inputs = model_inputs(dims)
    modalities = list(dims)
    d = int(hp["d"])
    layers = int(hp["layers"])
    mem_layers = max(layers, int(hp["mem_layers"]))
    masks = {m: inputs[f"{m}_mask"] for m in modalities}
    projected = {}
    for m in modalities:
        x = ZeroPadding(name=f"{m}_zeroed")([inputs[m], masks[m]])
        if m == "text":  # MulT drops out the word embeddings before projecting them
            x = keras.layers.Dropout(float(hp["embed_dropout"]), name="text_input_dropout")(x)
        x = keras.layers.Conv1D(d, conv_kernel(hp, m), padding="same", use_bias=False, name=f"{m}_conv")(x)
        projected[m] = ZeroPadding(name=f"{m}_conv_zeroed")([x, masks[m]])

    branches = []
    for target in modalities:
        sources = [m for m in modalities if m != target]
        if sources:
            crossed = [
                transformer(projected[target], masks[target], projected[s], masks[s], layers=layers, hp=hp,
                            name=f"{s}_to_{target}")
                for s in sources
            ]
            h = crossed[0] if len(crossed) == 1 else keras.layers.Concatenate(name=f"{target}_crossed")(crossed)
        else:
            h = projected[target]
        h = transformer(h, masks[target], layers=mem_layers, hp=hp, name=f"{target}_self")
        branches.append(LastRealStep(name=f"{target}_last")([h, masks[target]]))

    last = branches[0] if len(branches) == 1 else keras.layers.Concatenate(name="branches")(branches)
    width = last.shape[-1]
    h = keras.layers.Dense(width, activation="relu", name="proj1")(last)
    h = keras.layers.Dropout(float(hp["out_dropout"]), name="proj_dropout")(h)
    h = keras.layers.Dense(width, name="proj2")(h)
    h = keras.layers.Add(name="proj_residual")([h, last])
    outputs = keras.layers.Dense(num_outputs, activation=config.final_activ, dtype="float32", name="output")(h)
    return keras.Model(inputs, outputs, name="mult")
