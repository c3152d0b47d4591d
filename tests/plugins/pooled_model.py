"""A model in one module (``-mn pooled_linear``), registered the documented way: ``@register`` on its builder,
built from the shared serialisable blocks so that a saved model reloads anywhere (``tests/test_extension_points.py``)."""

from __future__ import annotations

from mmer_tf.models.registry import HParam, model_inputs, register


@register("pooled_linear", hparams={"hidden": HParam(16, "units of each modality's one hidden layer", minimum=1)},
          paper="a test plugin: mean-pooled modalities, one hidden layer each, a dense head")
def build_pooled_linear(dims, num_outputs, config, hp):
    import keras

    from mmer_tf.models.blocks.encoders import concat_or_single, dense_head, pooled_dnn

    inputs = model_inputs(dims)
    encoded = [pooled_dnn(inputs[m], inputs[f"{m}_mask"], hidden=int(hp["hidden"]), layers=1,
                          dropout=float(config.dropout_rate), name=m) for m in dims]
    return keras.Model(inputs, dense_head(concat_or_single(encoded, "fusion"), num_outputs, config),
                       name="pooled_linear")
