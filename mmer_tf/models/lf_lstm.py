"""``lf_lstm``: late fusion of per-modality masked (Bi)LSTMs.

Each modality is read by its own recurrent stack at its own length (its own mask), the final states are
concatenated and a dense head predicts. Each modality keeps its own time axis, so the model also runs on
the unaligned view.
"""

from __future__ import annotations

from mmer_tf.models.blocks.hparams import recurrent_hparams
from mmer_tf.models.registry import model_inputs, register


@register("lf_lstm", hparams=recurrent_hparams("each modality"), needs_aligned=False,
          paper="Late-fusion LSTM baseline (one masked BiLSTM per modality, concatenated)")
def build_lf_lstm(dims, num_outputs, config, hp):
    import keras
    from mmer_tf.models.blocks.encoders import concat_or_single, dense_head, masked_sequence_encoder

    inputs = model_inputs(dims)
    encoded = [
        masked_sequence_encoder(inputs[m], inputs[f"{m}_mask"], units=int(hp["units"]),
                                layers=int(config.num_layers), bidirectional=bool(hp["bidirectional"]),
                                dropout=float(config.dropout_rate), name=m)
        for m in dims
    ]
    fused = concat_or_single(encoded, "late_fusion")
    return keras.Model(inputs, dense_head(fused, num_outputs, config), name="lf_lstm")
