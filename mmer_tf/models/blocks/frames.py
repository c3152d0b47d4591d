"""Fine-tuned encoders inside the model: a KerasHub image backbone on every frame of a clip
(``FrameSequenceEncoder``), a Whisper encoder on a clip's log-mel frames (``MelSequenceEncoder``).

Why a layer of its own: fine-tuning (``mmer_tf.finetune``) trains the backbone with the rest of the model, so
it must run per step on ``[B, T, H, W, 3]`` frames. The layer folds time into the batch, runs the preset's
image converter (its scale and offset; the cached frames already have its size) and the backbone, pools
each frame's output (a feature map over space, a token sequence over tokens: as the frozen ``kh:`` video
recipe does) and unfolds time again: ``[B, T, D]``. The backbone and converter are KerasHub's own
serialisable layers; ``keras_hub`` is imported only when a model holding this layer is loaded.
"""

from __future__ import annotations

import keras
from keras import ops

_PACKAGE = "mmer_tf"


def _main_output(out):
    if isinstance(out, dict):
        for key in ("pooled_output", "sequence_output"):
            if key in out:
                return out[key]
        raise ValueError(f"the backbone returns {sorted(out)}; none is an image embedding")
    return out


def _freeze(model, frozen) -> list[str]:
    """Set the named sub-layers of ``model`` (its lower blocks, kept as the preset has them) untrainable and
    return the names, which the layer records in its config: a saved backbone's config does not hold its
    sub-layers' trainable flags."""
    names = [str(name) for name in frozen]
    wanted = set(names)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if layer.name in wanted:
            layer.trainable = False
    return names


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FrameSequenceEncoder(keras.layers.Layer):
    """``uint8 [B, T, H, W, 3] -> float32 [B, T, D]``: converter + backbone + pooling per frame."""

    def __init__(self, backbone, converter, frozen=(), **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.converter = converter
        self.frozen = _freeze(backbone, frozen)

    def _pool(self, x):
        if len(x.shape) == 4:
            return ops.mean(x, axis=(1, 2))
        if len(x.shape) == 3:
            return ops.mean(x, axis=1)
        return x

    def call(self, frames, training=None):
        shape = ops.shape(frames)
        height, width, channels = frames.shape[2], frames.shape[3], frames.shape[4]
        images = ops.reshape(ops.cast(frames, "float32"), (-1, height, width, channels))
        images = self.converter(images)
        pooled = self._pool(_main_output(self.backbone(images, training=training)))
        return ops.reshape(pooled, (shape[0], shape[1], pooled.shape[-1]))

    def compute_output_spec(self, frames):
        height, width, channels = frames.shape[2], frames.shape[3], frames.shape[4]
        probe = keras.KerasTensor((None, height, width, channels), dtype="float32")
        out = _main_output(self.backbone.compute_output_spec(probe))
        return keras.KerasTensor((frames.shape[0], frames.shape[1], out.shape[-1]), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(backbone=keras.saving.serialize_keras_object(self.backbone),
                      converter=keras.saving.serialize_keras_object(self.converter), frozen=list(self.frozen))
        return config

    @classmethod
    def from_config(cls, config):
        import keras_hub  # noqa: F401  (registers the backbone and converter classes)

        config = dict(config)
        backbone = keras.saving.deserialize_keras_object(config.pop("backbone"))
        converter = keras.saving.deserialize_keras_object(config.pop("converter"))
        return cls(backbone, converter, **config)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MelSequenceEncoder(keras.layers.Layer):
    """``(log-mels [B, F, M], float mask [B, F]) -> (states [B, ceil(F/2), D], mask [B, ceil(F/2)])``.

    A Whisper-style encoder (its stride-2 convolution halves the frames) as a fine-tuned stream; the mask
    follows: a clip with ``n`` real mel frames has ``ceil(n / 2)`` real states. The encoder is the backbone's
    functional encoder half (``encoder_features`` -> ``encoder_sequence_output``).
    """

    def __init__(self, encoder, frozen=(), **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.frozen = _freeze(encoder, frozen)

    def call(self, inputs, training=None):
        mels, mask = inputs
        states = self.encoder(mels, training=training)
        lengths = ops.ceil(ops.sum(ops.cast(mask > 0.5, "float32"), axis=1, keepdims=True) / 2.0)
        positions = ops.cast(ops.arange(ops.shape(states)[1]), "float32")[None, :]
        return states, ops.cast(positions < lengths, mask.dtype)

    def compute_output_spec(self, inputs):
        mels, mask = inputs
        out = self.encoder.compute_output_spec(keras.KerasTensor((None, None, mels.shape[-1]), dtype="float32"))
        return (keras.KerasTensor((mels.shape[0], None, out.shape[-1]), dtype="float32"),
                keras.KerasTensor((mask.shape[0], None), dtype=mask.dtype))

    def get_config(self):
        config = super().get_config()
        config.update(encoder=keras.saving.serialize_keras_object(self.encoder), frozen=list(self.frozen))
        return config

    @classmethod
    def from_config(cls, config):
        import keras_hub  # noqa: F401  (registers the encoder's layer classes)

        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        return cls(encoder, **config)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PooledStep(keras.layers.Layer):
    """``([B, T, D], float mask [B, T]) -> ([B, 1, D], ones [B, 1])``: a clip's steps as its one aligned step.

    The aligned view of a raw-media corpus collapses every modality to one step per clip (the mean over the
    utterance); a fine-tuned stream is collapsed the same way (the mean over its real frames), after the
    transformer over time, so any model takes it beside the cached modalities.
    """

    def call(self, inputs):
        x, mask = inputs
        real = ops.cast(mask > 0.5, x.dtype)
        total = ops.maximum(ops.sum(real, axis=1, keepdims=True), 1.0)
        mean = ops.sum(x * ops.expand_dims(real, -1), axis=1, keepdims=True) / ops.expand_dims(total, -1)
        return mean, ops.ones_like(mask[:, :1])

    def compute_output_spec(self, inputs):
        x, mask = inputs
        return (keras.KerasTensor((x.shape[0], 1, x.shape[-1]), dtype=x.dtype),
                keras.KerasTensor((mask.shape[0], 1), dtype=mask.dtype))


__all__ = ["FrameSequenceEncoder", "MelSequenceEncoder", "PooledStep"]
