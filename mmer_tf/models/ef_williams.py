"""Early-fusion BiLSTM of Williams et al. (2018), the seed suite's only model.

Williams, Kleinegesse, Comanescu & Radu, "Recognizing Emotions in Video Using Multimodal DNN Feature
Fusion", Challenge-HML 2018. The modalities' features are concatenated per time step (text, vision,
audio: the seed's order), batch-normalised, run through ``-l`` stacked bidirectional LSTM(64) layers,
each followed by a ``Dropout(-d)`` on its output, then Dense(``-n``, relu) -> dropout -> Dense(outputs,
``-a``). That is where the original places its dropout (``src/models/ef_williams.py``: ``Bidirectional(LSTM)``
then ``Dropout`` per layer); the LSTMs themselves have no input or recurrent dropout.

Padding is masked all the way: the fused mask (a step is real when it is real in every modality, see
:class:`~mmer_tf.models.layers.MergeMasks`) feeds BatchNormalization (masked moments) and every LSTM,
and the last LSTM returns the state at each sequence's last real step, so extra padded steps never
change a prediction. The LSTM settings (tanh/sigmoid, no recurrent dropout, no unroll, bias) keep the
TensorFlow backend's cuDNN kernel eligible on GPU; the pipeline pads on the right, which cuDNN needs.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError
from mmer_tf.models.registry import HParam, model_inputs, register

# The seed concatenated text, vision (image), then audio features.
FUSION_ORDER = ("text", "vision", "audio")


def fusion_order(modalities) -> list[str]:
    """The seed's order for known modalities, then any others in the order given."""
    modalities = list(modalities)
    return [m for m in FUSION_ORDER if m in modalities] + [m for m in modalities if m not in FUSION_ORDER]


@register(
    "ef_williams",
    hparams={"lstm_units": HParam(64, "units of each direction of every bidirectional LSTM layer", minimum=1)},
    paper="Williams et al. (2018), Recognizing Emotions in Video Using Multimodal DNN Feature Fusion, "
          "Challenge-HML, ACL W18-3302",
    needs_aligned=True,
)
def build_ef_williams(dims: dict[str, int], num_outputs: int, config, hp: dict):
    """Early-fusion BiLSTM; uses ``config.num_layers``/``num_nodes``/``dropout_rate``/``final_activ``."""
    import keras
    from keras import layers
    from mmer_tf.models.layers import MergeMasks

    if not dims:
        raise ValueError("ef_williams needs at least one modality")
    num_layers = int(config.num_layers)
    if num_layers < 1:
        raise ValueError(f"ef_williams needs num_layers >= 1, got {num_layers}")
    try:
        keras.activations.get(config.final_activ)
    except ValueError:
        raise MmerError(f"-a/--final_activ: unknown activation {config.final_activ!r}") from None
    units = int(hp.get("lstm_units", 64))
    steps = int(config.fixed_num_steps) or None
    inputs = model_inputs(dims, steps)
    order = fusion_order(dims)

    features = [inputs[m] for m in order]
    fused = features[0] if len(features) == 1 else layers.Concatenate(axis=-1, name="early_fusion")(features)
    mask = MergeMasks(mode="all", name="fused_mask")([inputs[f"{m}_mask"] for m in order])

    x = layers.BatchNormalization(name="input_norm")(fused, mask=mask)
    for i in range(num_layers):
        last = i == num_layers - 1
        lstm = layers.LSTM(
            units,
            activation="tanh",
            recurrent_activation="sigmoid",
            use_bias=True,
            dropout=0.0,
            recurrent_dropout=0.0,
            unroll=False,
            return_sequences=not last,
        )
        x = layers.Bidirectional(lstm, name=f"bilstm_{i + 1}")(x, mask=mask)
        # Dropout passes the mask through to the next masked LSTM (a sequence output keeps its mask).
        x = layers.Dropout(float(config.dropout_rate), name=f"lstm_dropout_{i + 1}")(x)
    x = layers.Dense(int(config.num_nodes), activation="relu", name="hidden")(x)
    x = layers.Dropout(float(config.dropout_rate), name="hidden_dropout")(x)
    # float32 output even under the mixed_float16 policy (stable losses and metrics).
    outputs = layers.Dense(int(num_outputs), activation=config.final_activ, dtype="float32", name="output")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="ef_williams")
