"""``logmel`` (audio, the offline default): 64 log-mel bands every 10 ms (``features/audio.py``)."""

from __future__ import annotations

from mmer_tf.features.kinds import RecipeKind


def _audio(wave, recipe):
    from mmer_tf.features.audio import logmel

    return logmel(wave)


KIND = RecipeKind(name="logmel", syntax={"audio": "logmel"}, audio=_audio,
                  doc="tf.signal's log-mel front end in NumPy, no download")
