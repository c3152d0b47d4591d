"""A feature recipe kind in one module (``--audio_recipe zcr:<frame ms>``): per frame, the log RMS and the
zero-crossing rate, which tells a low tone from a high one (``tests/test_extension_points.py``)."""

from __future__ import annotations

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.features.kinds import RecipeKind

SAMPLE_RATE = 16000


def _check(modality: str, spec: str, flag: str) -> None:
    _, _, ms = spec.partition(":")
    if not ms.isdigit() or not 5 <= int(ms) <= 1000:
        raise MmerError(f"{flag} {spec}: expected zcr:<frame length in ms, 5-1000>")


def _audio(wave, recipe):
    hop = int(recipe.audio.partition(":")[2]) * SAMPLE_RATE // 1000
    count = max(1, len(wave) // hop)
    frames = np.resize(np.asarray(wave, dtype=np.float32), count * hop).reshape(count, hop)
    rms = np.log(np.sqrt(np.mean(frames ** 2, axis=1)) + 1e-6)
    zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)) > 0, axis=1)
    starts = np.arange(count) * hop / SAMPLE_RATE
    return np.stack([starts, starts + hop / SAMPLE_RATE], axis=1), np.stack([rms, zcr * 10], axis=1)


KIND = RecipeKind(name="zcr", syntax={"audio": "zcr:<ms>"}, check=_check, audio=_audio,
                  doc="log RMS and zero-crossing rate per frame (a test plugin)")
