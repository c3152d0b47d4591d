"""``lf_dnn``: late fusion of per-modality DNNs over mean-pooled features.

Each modality is summarised by the mean of its real steps (padding excluded) and encoded by its own
small feed-forward network; the encodings are concatenated and a dense head predicts. Because every
modality is pooled on its own, the model accepts aligned and unaligned input alike.
"""

from __future__ import annotations

from mmer_tf.models.registry import HParam, model_inputs, register

HPARAMS = {
    "hidden": HParam(128, "units of each hidden layer of a modality's sub-network", minimum=1),
    "sub_layers": HParam(2, "hidden layers in each modality's sub-network"),
}


@register("lf_dnn", hparams=HPARAMS, needs_aligned=False,
          paper="Late-fusion DNN baseline (per-modality mean-pooled networks, concatenated)")
def build_lf_dnn(dims, num_outputs, config, hp):
    import keras
    from mmer_tf.models.blocks.encoders import concat_or_single, dense_head, pooled_dnn

    inputs = model_inputs(dims)
    encoded = [
        pooled_dnn(inputs[m], inputs[f"{m}_mask"], hidden=int(hp["hidden"]), layers=int(hp["sub_layers"]),
                   dropout=float(config.dropout_rate), name=m)
        for m in dims
    ]
    fused = concat_or_single(encoded, "late_fusion")
    return keras.Model(inputs, dense_head(fused, num_outputs, config), name="lf_dnn")
