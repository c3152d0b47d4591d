"""Functional sub-networks several models share (built from Keras and ``layers`` layers; nothing to register).

- :func:`dense_head`: the output head every baseline ends with (``-n``, ``-d``, ``-a``);
- :func:`recurrent_stack` / :func:`masked_sequence_encoder`: masked (Bi)LSTM stacks (``ef_lstm``,
  ``lf_lstm``, TFN's text network);
- :func:`pooled_dnn`: masked mean over time + a small DNN (``lf_dnn``, TFN's acoustic/visual networks);
- :func:`modality_embeddings` with ``SUBNETWORK_HPARAMS``: TFN's embedding sub-networks, shared by ``lmf``.
"""

from __future__ import annotations

import keras

from mmer_tf.models.blocks.hparams import SUBNETWORK_HPARAMS  # declared Keras-free, see there
from mmer_tf.models.layers import MaskedMeanPooling, MaskToBool, ZeroPadding


def dense_head(x, num_outputs: int, config, name: str = "head"):
    """The shared output head: Dense(-n, relu) -> Dropout(-d) -> Dense(outputs, -a) in float32."""
    x = keras.layers.Dense(config.num_nodes, activation="relu", name=f"{name}_dense")(x)
    if config.dropout_rate > 0:
        x = keras.layers.Dropout(config.dropout_rate, name=f"{name}_dropout")(x)
    # float32 output so a mixed-precision run still returns float32 predictions and losses.
    return keras.layers.Dense(num_outputs, activation=config.final_activ, dtype="float32", name="output")(x)


def recurrent_stack(x, mask, *, units: int, layers: int, bidirectional: bool, dropout: float, name: str):
    """``layers`` masked (Bi)LSTMs; returns the final state ``[B, units * (1 + bidirectional)]``.

    ``mask`` is boolean ``[B, T]``.
    """
    for index in range(layers):
        last = index == layers - 1
        cell = keras.layers.LSTM(units, return_sequences=not last, name=f"{name}_lstm{index + 1}")
        if bidirectional:
            cell = keras.layers.Bidirectional(cell, name=f"{name}_bilstm{index + 1}")
        x = cell(x, mask=mask)
        if not last and dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{index + 1}")(x)
    return x


def masked_sequence_encoder(x, float_mask, *, units: int, layers: int, bidirectional: bool, dropout: float,
                            name: str):
    """Zero the padding, then a masked (Bi)LSTM stack: ``[B, T, D] -> [B, units * directions]``."""
    x = ZeroPadding(name=f"{name}_zeroed")([x, float_mask])
    mask = MaskToBool(name=f"{name}_bool_mask")(float_mask)
    return recurrent_stack(x, mask, units=units, layers=layers, bidirectional=bidirectional, dropout=dropout,
                           name=name)


def pooled_dnn(x, mask, *, hidden: int, layers: int, dropout: float, name: str):
    """Masked mean over time, then ``layers`` Dense(relu)+Dropout: ``[B, T, D] -> [B, hidden]``."""
    h = MaskedMeanPooling(name=f"{name}_mean")([x, mask])
    for index in range(layers):
        h = keras.layers.Dense(hidden, activation="relu", name=f"{name}_dense{index + 1}")(h)
        if dropout > 0:
            h = keras.layers.Dropout(dropout, name=f"{name}_dropout{index + 1}")(h)
    return h


def concat_or_single(tensors, name: str):
    """Concatenate along features, or pass a single tensor through (unimodal runs)."""
    return tensors[0] if len(tensors) == 1 else keras.layers.Concatenate(axis=-1, name=name)(tensors)


def modality_embeddings(inputs, dims, config, hp):
    """TFN's embedding sub-networks: masked LSTM + dense for text, mean-pooled DNN for the others."""
    dropout = float(config.dropout_rate)
    embeddings = []
    for m in dims:
        size = int(hp[f"{m}_hidden"])
        if m == "text":
            h = masked_sequence_encoder(inputs[m], inputs[f"{m}_mask"], units=size, layers=1,
                                        bidirectional=False, dropout=dropout, name=m)
            h = keras.layers.Dense(size, activation="relu", name=f"{m}_embedding")(h)
            if dropout > 0:
                h = keras.layers.Dropout(dropout, name=f"{m}_embedding_dropout")(h)
        else:
            h = pooled_dnn(inputs[m], inputs[f"{m}_mask"], hidden=size, layers=int(hp["sub_layers"]),
                           dropout=dropout, name=m)
        embeddings.append(h)
    return embeddings


__all__ = [
    "SUBNETWORK_HPARAMS",
    "concat_or_single",
    "dense_head",
    "masked_sequence_encoder",
    "modality_embeddings",
    "pooled_dnn",
    "recurrent_stack",
]
