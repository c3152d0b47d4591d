"""``kh:<preset>`` (audio, text, video): a KerasHub backbone by preset name or local preset folder.

Audio: a Whisper encoder over its converter's log-mel frames; text: token states averaged per word;
video: an image backbone with its image converter, pooled. Loading and pooling: ``features/kh.py``.
"""

from __future__ import annotations

from mmer_tf.features.kinds import FrameEncoder, RecipeKind


def _check(modality: str, spec: str, flag: str) -> None:
    from mmer_tf.features import kh

    kh.check_spec(spec, flag)


def _audio(wave, recipe):
    from mmer_tf.features.kh import encode_wave
    from mmer_tf.features.media import SAMPLE_RATE

    return encode_wave(wave, recipe.audio, SAMPLE_RATE)


def _text(text, duration, recipe):
    from mmer_tf.features.kh import encode_words
    from mmer_tf.features.text import _WORD, spread

    tokens = _WORD.findall(text)  # case kept: a cased tokenizer needs it
    return spread(max(1, len(tokens)), duration), encode_words(tokens, recipe.text)


def _video(recipe) -> FrameEncoder:
    import numpy as np

    from mmer_tf.features import kh

    return FrameEncoder(prepare=np.ascontiguousarray, encode=lambda batch: kh.encode_images(batch, recipe.video))


def _weights(spec: str, flag: str) -> str:
    from mmer_tf.features import kh

    return kh.weights_fingerprint(spec, flag)


KIND = RecipeKind(name="kh", syntax={"audio": "kh:<preset>", "text": "kh:<preset>", "video": "kh:<preset>"},
                  check=_check, audio=_audio, text=_text, video=_video, weights=_weights,
                  doc="a KerasHub preset (Whisper, text and image backbones)")
