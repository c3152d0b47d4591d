"""``tfn``: Tensor Fusion Network (Zadeh et al., EMNLP 2017).

Each modality gets an embedding sub-network (TFN: an LSTM for language, mean pooling plus a small DNN
for the acoustic and visual streams). The embeddings ``h_m`` are extended with a constant 1 and fused by
their outer product, ``z = [h_1; 1] ⊗ [h_2; 1] ⊗ [h_3; 1]``, flattened: the ones keep every unimodal and
bimodal interaction in ``z`` next to the trimodal ones. A post-fusion DNN predicts from ``z``.

With one modality the "product" is just ``[h; 1]``, with two it is the bimodal product, so unimodal and
bimodal ablations need no special case. The sub-networks are shared with ``lmf`` (``blocks/encoders.py``);
the fusion layer is ``blocks/fusion.py``.

The post-fusion ReLU layers start with a positive bias (``POST_FUSION_BIAS_INIT``), see there for why.
"""

from __future__ import annotations

from mmer_tf.models.blocks.hparams import SUBNETWORK_HPARAMS
from mmer_tf.models.registry import HParam, model_inputs, register

HPARAMS = {
    **SUBNETWORK_HPARAMS,
    "post_fusion": HParam(128, "units of each post-fusion dense layer", minimum=1),
    "post_layers": HParam(2, "post-fusion dense layers before the output layer"),
}

# Initial bias of the post-fusion ReLU layers (their kernels stay Glorot). Why: most fused coordinates are
# products of several small non-negative embedding units, so the post-fusion pre-activations start small
# (|.| < 0.5). Under the default mean-absolute-error loss on presence scores that are mostly 0, every
# zero-target sample pulls its prediction to exactly 0 with a gradient of constant size, and the cheapest
# way to do that is to push those small pre-activations below zero: after two epochs on the built-in
# sample 91-94% of the post-fusion units were dead for every input and TFN predicted a constant (the
# median). A positive start keeps the units active while the fusion weights learn which interactions
# matter (as Krizhevsky et al., 2012, started ReLU layers' biases positive "to accelerate the early stages
# of learning by providing the ReLUs with positive inputs"). Same layers and function class as the paper.
POST_FUSION_BIAS_INIT = 0.5


@register("tfn", hparams=HPARAMS, needs_aligned=False,
          paper="Zadeh, Chen, Poria, Cambria, Morency. Tensor Fusion Network for Multimodal Sentiment "
                "Analysis. EMNLP 2017")
def build_tfn(dims, num_outputs, config, hp):
    import keras
    from mmer_tf.models.blocks.encoders import modality_embeddings
    from mmer_tf.models.blocks.fusion import TensorFusionDense

    inputs = model_inputs(dims)
    x = modality_embeddings(inputs, dims, config, hp)
    # The layer reading the fused tensor is a TensorFusionDense: the tensor fusion and that dense layer in one,
    # without forming the Π(d_m + 1)-wide tensor (same weights and function; see fusion.py for why).
    for index in range(int(hp["post_layers"])):
        kwargs = dict(units=int(hp["post_fusion"]), activation="relu", name=f"post_fusion{index + 1}",
                      bias_initializer=keras.initializers.Constant(POST_FUSION_BIAS_INIT))
        x = TensorFusionDense(**kwargs)(x) if index == 0 else keras.layers.Dense(**kwargs)(x)
        if config.dropout_rate > 0:
            x = keras.layers.Dropout(float(config.dropout_rate), name=f"post_fusion_dropout{index + 1}")(x)
    output = TensorFusionDense if int(hp["post_layers"]) == 0 else keras.layers.Dense
    outputs = output(num_outputs, activation=config.final_activ, dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name="tfn")
