"""``hub:<model>`` (audio, text, video): a TensorFlow Hub SavedModel, by local folder or downloaded handle.

Audio: a waveform encoder (YAMNet, VGGish, TRILLsson), rows every ``hub_frame_hop`` s. Text: one model
(USE style, one row per clip) or ``hub:<preprocess>,<encoder>`` (a BERT pair). Video: an image
feature-vector model on the face crops, in batches. Loading and output selection: ``features/hub.py``.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError
from mmer_tf.features.kinds import FrameEncoder, RecipeKind


def _check(modality: str, spec: str, flag: str) -> None:
    from mmer_tf.features.recipe import _hub_paths, check_hub_path

    paths = _hub_paths(spec)
    if modality == "text":
        if len(paths) > 2:
            raise MmerError(f"{flag} {spec}: expected hub:<model> or hub:<preprocess>,<encoder>")
    elif len(paths) != 1:
        raise MmerError(f"{flag} {spec}: takes one SavedModel path")
    for path in paths:
        check_hub_path(path, flag)


def _audio(wave, recipe):
    from mmer_tf.features.audio import hub_waveform

    return hub_waveform(wave, recipe)


def _text(text, duration, recipe):
    from mmer_tf.features.text import hub_text

    return hub_text(text, duration, recipe)


def _video(recipe) -> FrameEncoder:
    from mmer_tf.features.video import hub_frame_encoder

    return hub_frame_encoder(recipe)


KIND = RecipeKind(name="hub", syntax={"audio": "hub:<model>", "text": "hub:<model>|hub:<preprocess>,<encoder>",
                                      "video": "hub:<model>"},
                  check=_check, audio=_audio, text=_text, video=_video,
                  doc="a TF Hub SavedModel (local folder, or a TF Hub / Kaggle handle downloaded once)")
