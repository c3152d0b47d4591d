"""``lf_dnn``: late fusion of per-modality DNNs over mean-pooled features.

Each modality is summarised by the mean of its real steps (padding excluded) and encoded by its own
small feed-forward network; the encodings are concatenated and a dense head predicts. Because every
modality is pooled on its own, the model accepts aligned and unaligned input alike.
"""

from __future__ import annotations

import keras

from mmer_tf.models.ef_lstm import dense_head
from mmer_tf.models.layers import MaskedMeanPooling
from mmer_tf.models.registry import HParam, model_inputs, register

HPARAMS = {
    "hidden": HParam(128, "units of each hidden layer of a modality's sub-network"),
    "sub_layers": HParam(2, "hidden layers in each modality's sub-network"),
}


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


@register("lf_dnn", hparams=HPARAMS, needs_aligned=False,
          paper="Late-fusion DNN baseline (per-modality mean-pooled networks, concatenated)")
def build_lf_dnn(dims, num_outputs, config, hp):
    inputs = model_inputs(dims)
    encoded = [
        pooled_dnn(inputs[m], inputs[f"{m}_mask"], hidden=int(hp["hidden"]), layers=int(hp["sub_layers"]),
                   dropout=float(config.dropout_rate), name=m)
        for m in dims
    ]
    fused = concat_or_single(encoded, "late_fusion")
    return keras.Model(inputs, dense_head(fused, num_outputs, config), name="lf_dnn")
