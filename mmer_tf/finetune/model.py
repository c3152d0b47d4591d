"""The fine-tuned streams inside the model, then the chosen model (``-mn``) over all modalities.

Why wrap rather than write a new model: the stream ends as one more ``[B, T, D]`` sequence with its mask,
exactly what every registered model takes, so the chosen model fuses it with the cached modalities as it
fuses any modality (early, late, tensor, attention ...) and its flags, tables and saving are unchanged.

The stream is seed 004's video branch: the backbone on every cached face crop
(:class:`~mmer_tf.models.blocks.frames.FrameSequenceEncoder`, top N blocks trainable), a linear map to the
transformer's width (audio: the Whisper encoder on the cached log-mel frames,
:class:`~mmer_tf.models.blocks.frames.MelSequenceEncoder`, in place of the backbone), sinusoidal positions
(MulT's :class:`ScaledPositionEmbedding`) and ``LAYERS``
post-norm self-attention blocks over time whose keys are the clip's real frames. In the aligned view it is
then collapsed to one step per clip (the mean over real frames), as the view collapses every modality; in
the unaligned view it keeps one step per frame.
"""

from __future__ import annotations

from typing import Mapping

from mmer_tf.data.segments import MODALITIES

WIDTH = 64   # the transformer over time: model width (seed 004: a small encoder, two heads)
LAYERS = 2
HEADS = 2


def temporal_encoder(x, mask, *, dropout: float, name: str):
    """``[B, T, D]`` frame embeddings -> ``[B, T, WIDTH]``: positions + self-attention over real frames."""
    import keras

    from mmer_tf.models.blocks.attention import KeyPaddingMask, ScaledPositionEmbedding

    x = keras.layers.Dense(WIDTH, name=f"{name}_project")(x)
    x = ScaledPositionEmbedding(name=f"{name}_positions")(x)
    x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    attend = KeyPaddingMask(name=f"{name}_attention_mask")([mask, mask])
    for i in range(LAYERS):
        block = f"{name}_time{i}"
        attended = keras.layers.MultiHeadAttention(num_heads=HEADS, key_dim=WIDTH // HEADS, dropout=dropout,
                                                   name=f"{block}_attention")(x, x, x, attention_mask=attend)
        x = keras.layers.LayerNormalization(name=f"{block}_ln1")(keras.layers.Add(name=f"{block}_res1")([x, attended]))
        h = keras.layers.Dense(2 * WIDTH, activation="relu", name=f"{block}_ffn1")(x)
        h = keras.layers.Dropout(dropout, name=f"{block}_ffn_dropout")(h)
        h = keras.layers.Dense(WIDTH, name=f"{block}_ffn2")(h)
        x = keras.layers.LayerNormalization(name=f"{block}_ln2")(keras.layers.Add(name=f"{block}_res2")([x, h]))
    return x


def build(config, feature_dims: Mapping[str, int], streams: Mapping[str, object], num_outputs: int, *,
          aligned: bool):
    """The whole model: ``streams`` (modality -> :class:`~mmer_tf.finetune.run.Stream`) fine-tuned inside it,
    ``feature_dims`` (the cached modalities) fed as they are, and ``config.model_name`` over all of them."""
    import keras

    from mmer_tf.models import registry
    from mmer_tf.models.blocks.frames import FrameSequenceEncoder, MelSequenceEncoder, PooledStep

    inputs, inner = {}, {}
    for m, dim in feature_dims.items():
        inputs[m] = inner[m] = keras.Input(shape=(None, dim), name=m, dtype="float32")
        inputs[f"{m}_mask"] = inner[f"{m}_mask"] = keras.Input(shape=(None,), name=f"{m}_mask", dtype="float32")
    for m, stream in streams.items():
        shape, dtype = stream.frames.step
        values = inputs[m] = keras.Input(shape=(None, *shape), name=m, dtype=dtype)
        mask = inputs[f"{m}_mask"] = keras.Input(shape=(None,), name=f"{m}_mask", dtype="float32")
        if m == "audio":  # the encoder halves the frames; the mask follows
            x, mask = MelSequenceEncoder(stream.backbone, frozen=stream.frozen, name=f"{m}_backbone")([values, mask])
        else:
            x = FrameSequenceEncoder(stream.backbone, stream.converter, frozen=stream.frozen,
                                     name=f"{m}_backbone")(values)
        x = temporal_encoder(x, mask, dropout=float(config.dropout_rate), name=m)
        if aligned:
            x, mask = PooledStep(name=f"{m}_pooled")([x, mask])
        inner[m], inner[f"{m}_mask"] = x, mask
    dims = {m: (WIDTH if m in streams else feature_dims[m]) for m in MODALITIES if m in inner}
    chosen = registry.build_model(config, dims, num_outputs)
    outputs = chosen({name: inner[name] for name in chosen.input})
    return keras.Model(inputs, outputs, name=chosen.name)


__all__ = ["HEADS", "LAYERS", "WIDTH", "build", "temporal_encoder"]
