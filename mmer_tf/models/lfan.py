"""``lfan``: the Leader-Follower Attention Network of seed 002 (Richet et al., ABAW 2024).

Read from the original's ``models/model.py`` (class ``LFAN``), ``models/temporal_convolutional_model.py``
and ``models/transformer.py`` (``MultimodalTransformerEncoder``), rewritten with Keras layers:

1. every modality is brought to the *leader*'s time axis (``ResampleToLeader``: the identity when the
   modalities share one axis, as on frame-level corpora and the aligned view);
2. per modality a temporal convolution network: blocks of two dilated *causal* ``Conv1D`` (kernel
   ``tcn_kernel_size``, dilation ``2**i``, LeakyReLU 0.01, dropout), a 1x1 convolution on the residual
   when the width changes, LeakyReLU of the sum; then BatchNormalization over channels (real steps only);
3. fusion at every time step: per modality one ``Dense(3 * modal_dim)`` (q, k, v), attention across the
   modalities (not across time) with ``num_heads`` heads and the values added back, an output
   projection, dropout and LayerNorm -- the *followers* ``[B, T, M * modal_dim]``;
4. the leader's TCN features concatenated with the followers, then one linear unit per output per step.

On a frame-level corpus the model returns ``[B, T, outputs]`` (``per_step=True``); on a segment-level
corpus the per-step logits are averaged over the leader's real steps (the original's
``FRAMES_AVG_LOGITS``, inside the model) before the final activation, so it trains on every corpus.

Departures (docs/MODELS.md): no ``weight_norm`` on the convolutions (one scale per output channel
less), Keras' default initialisers, and the leader is ``--lfan_leader`` (the run's ``--modalities``
are kept in text, audio, vision order, so their order cannot carry the choice).
"""

from __future__ import annotations

from mmer_tf.errors import MmerError
from mmer_tf.models.registry import HParam, model_inputs, register

HPARAMS = {
    "leader": HParam("vision", "leader modality (the original's first modality, video); the first of the "
                               "run's modalities when the run has no such modality"),
    "vision_channels": HParam("512,256,256,128", "TCN block widths for vision (the original's default)"),
    "audio_channels": HParam("32,32,32,32", "TCN block widths for audio (the original's default)"),
    "text_channels": HParam("256,256,128,128", "TCN block widths for text (the original's configs.py, bert)"),
    "tcn_kernel_size": HParam(5, "temporal convolution kernel size (also --tcn_kernel_size, the original's name)",
                              minimum=1, alias="tcn_kernel_size"),
    "modal_dim": HParam(32, "per-modality width of the attention fusion (also --modal_dim, the original's name)",
                        minimum=1, alias="modal_dim"),
    "num_heads": HParam(2, "attention heads of the fusion; must divide modal_dim (also --num_heads, the original's "
                           "name)", minimum=1, alias="num_heads"),
    "tcn_dropout": HParam(0.1, "dropout inside each TCN block"),
    "fusion_dropout": HParam(0.1, "dropout on the fusion output"),
}


MODALITY_NAMES = ("text", "audio", "vision")


def channel_list(text: str, modality: str) -> list[int]:
    try:
        values = [int(v) for v in str(text).replace(" ", "").split(",") if v]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise MmerError(f"--lfan_{modality}_channels: {text!r} is not a comma-separated list of positive widths")
    return values


def check_hparams(hp) -> None:
    """Before any work: every channel list parses, the heads divide ``modal_dim``, the leader is a modality."""
    for modality in MODALITY_NAMES:
        channel_list(hp[f"{modality}_channels"], modality)
    if int(hp["modal_dim"]) % int(hp["num_heads"]):
        raise MmerError(f"--lfan_num_heads: {hp['num_heads']} heads do not divide --lfan_modal_dim={hp['modal_dim']}; "
                        f"choose a divisor of {hp['modal_dim']}")
    if hp["leader"] not in MODALITY_NAMES:
        raise MmerError(f"--lfan_leader: {hp['leader']!r} is not one of {', '.join(MODALITY_NAMES)}")


def tcn_block(x, width: int, *, kernel: int, dilation: int, dropout: float, name: str):
    """One residual block of the original's ``TemporalBlock`` (causal: step t sees steps <= t only)."""
    import keras

    h = x
    for index in (1, 2):
        h = keras.layers.Conv1D(width, kernel, padding="causal", dilation_rate=dilation, name=f"{name}_conv{index}")(h)
        h = keras.layers.LeakyReLU(negative_slope=0.01, name=f"{name}_relu{index}")(h)
        if dropout > 0:
            h = keras.layers.Dropout(dropout, name=f"{name}_dropout{index}")(h)
    residual = x if x.shape[-1] == width else keras.layers.Conv1D(width, 1, name=f"{name}_downsample")(x)
    summed = keras.layers.Add(name=f"{name}_add")([h, residual])
    return keras.layers.LeakyReLU(negative_slope=0.01, name=f"{name}_out")(summed)


def temporal_branch(x, float_mask, channels, *, kernel: int, dropout: float, name: str):
    """``[B, T, D] -> [B, T, channels[-1]]``: the modality's TCN and channel BatchNorm (real steps only)."""
    from mmer_tf.models.blocks.temporal import MaskedBatchNorm
    from mmer_tf.models.layers import ZeroPadding

    x = ZeroPadding(name=f"{name}_zeroed")([x, float_mask])
    for level, width in enumerate(channels):
        x = tcn_block(x, width, kernel=kernel, dilation=2 ** level, dropout=dropout, name=f"{name}_tcn{level + 1}")
    # PyTorch BatchNorm1d defaults (momentum 0.1 there is 0.9 here), as the original uses
    return MaskedBatchNorm(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")([x, float_mask])


def leader_of(modalities, wanted: str) -> str:
    return wanted if wanted in modalities else modalities[0]


@register("lfan", hparams=HPARAMS, needs_aligned=False, per_step=True, check=check_hparams,
          paper="Richet et al. Text- and Feature-based Models for Compound Multimodal Emotion Recognition in "
                "the Wild (ABAW 2024), Leader-Follower Attention Network")
def build_lfan(dims, num_outputs, config, hp, per_step: bool = False):
    import keras
    from mmer_tf.models.blocks.temporal import ResampleToLeader, StepModalityAttention
    from mmer_tf.models.layers import MaskedMeanPooling

    modalities = list(dims)
    leader = leader_of(modalities, str(hp["leader"]))
    order = [leader] + [m for m in modalities if m != leader]
    check_hparams(hp)
    modal_dim, heads, kernel = int(hp["modal_dim"]), int(hp["num_heads"]), int(hp["tcn_kernel_size"])
    inputs = model_inputs(dims)
    leader_mask = inputs[f"{leader}_mask"]
    features = {}
    for m in order:
        x = inputs[m]
        if m != leader:
            x = ResampleToLeader(name=f"{m}_to_leader")([x, inputs[f"{m}_mask"], leader_mask])
        features[m] = temporal_branch(x, leader_mask, channel_list(hp.get(f"{m}_channels", ""), m),
                                      kernel=kernel, dropout=float(hp["tcn_dropout"]), name=m)
    projections = [keras.layers.Dense(3 * modal_dim, name=f"{m}_qkv")(features[m]) for m in order]
    attended = StepModalityAttention(heads, name="modality_attention")(projections)
    follower = keras.layers.Dense(modal_dim * len(order), name="fusion_projection")(attended)
    if float(hp["fusion_dropout"]) > 0:
        follower = keras.layers.Dropout(float(hp["fusion_dropout"]), name="fusion_dropout")(follower)
    follower = keras.layers.LayerNormalization(epsilon=1e-5, name="fusion_ln")(follower)
    joined = keras.layers.Concatenate(name="leader_and_followers")([features[leader], follower])
    logits = keras.layers.Dense(num_outputs, dtype="float32", name="step_logits")(joined)
    if not per_step:
        logits = MaskedMeanPooling(dtype="float32", name="pooled_logits")([logits, leader_mask])
    outputs = keras.layers.Activation(config.final_activ, dtype="float32", name="output")(logits)
    return keras.Model(inputs, outputs, name="lfan")
