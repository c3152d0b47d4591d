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

from mmer_tf.models.blocks.hparams import recurrent_hparams
from mmer_tf.models.registry import model_inputs, register


@register("ef_lstm", hparams=recurrent_hparams("the fused sequence"), needs_aligned=True,
          paper="Early-fusion LSTM baseline (as in Zadeh et al., ACL 2018, CMU-MOSEI / Graph-MFN paper)")
def build_ef_lstm(dims, num_outputs, config, hp):
    import keras
    from mmer_tf.models.blocks.encoders import dense_head, recurrent_stack
    from mmer_tf.models.layers import MergeMasks, ZeroPadding

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
