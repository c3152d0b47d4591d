"""``ef_lstm``: early fusion — concatenate the modalities step by step, then a (Bi)LSTM stack.

The classic early-fusion baseline of the CMU-MOSEI literature (e.g. the EF-LSTM baseline of Zadeh et
al., 2018, "Multi-attention recurrent network"): word-aligned features of every modality are
concatenated per time step and read by one recurrent network. It needs the aligned view, because the
concatenation needs one time axis.

Padding never reaches a prediction: padded steps are zeroed, and the LSTMs get a boolean mask (a step
is real only when it is real in every modality), so they skip padded steps and the last layer returns
the state at the last real step.
"""

from __future__ import annotations

import keras

from mmer_tf.models.layers import MergeMasks, ZeroPadding
from mmer_tf.models.registry import HParam, model_inputs, register

HPARAMS = {
    "units": HParam(64, "LSTM units per direction in each recurrent layer (-l sets the number of layers)"),
    "bidirectional": HParam(True, "read the fused sequence in both directions (BiLSTM)"),
}


def recurrent_stack(x, mask, *, units: int, layers: int, bidirectional: bool, dropout: float, name: str):
    """``layers`` masked (Bi)LSTMs; returns the final state ``[B, units * (1 + bidirectional)]``.

    Shared by ``lf_lstm`` (one stack per modality). ``mask`` is boolean ``[B, T]``.
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


def dense_head(x, num_outputs: int, config, name: str = "head"):
    """The shared output head: Dense(-n, relu) -> Dropout(-d) -> Dense(outputs, -a) in float32."""
    x = keras.layers.Dense(config.num_nodes, activation="relu", name=f"{name}_dense")(x)
    if config.dropout_rate > 0:
        x = keras.layers.Dropout(config.dropout_rate, name=f"{name}_dropout")(x)
    # float32 output so a mixed-precision run still returns float32 predictions and losses.
    return keras.layers.Dense(num_outputs, activation=config.final_activ, dtype="float32", name="output")(x)


@register("ef_lstm", hparams=HPARAMS, needs_aligned=True,
          paper="Early-fusion LSTM baseline (as in Zadeh et al., ACL 2018, CMU-MOSEI / Graph-MFN paper)")
def build_ef_lstm(dims, num_outputs, config, hp):
    inputs = model_inputs(dims)
    modalities = list(dims)
    masks = [inputs[f"{m}_mask"] for m in modalities]
    mask = MergeMasks(mode="all", name="fused_mask")(masks)
    steps = [ZeroPadding(name=f"{m}_zeroed")([inputs[m], inputs[f"{m}_mask"]]) for m in modalities]
    fused = steps[0] if len(steps) == 1 else keras.layers.Concatenate(axis=-1, name="early_fusion")(steps)
    state = recurrent_stack(fused, mask, units=int(hp["units"]), layers=int(config.num_layers),
                            bidirectional=bool(hp["bidirectional"]), dropout=float(config.dropout_rate),
                            name="fused")
    outputs = dense_head(state, num_outputs, config)
    return keras.Model(inputs, outputs, name="ef_lstm")
