"""One clip -> its feature sequences, the unit both the corpus featurizer and ``predict`` run.

A missing stream is not an error: a WAV has no picture and a silent video no sound, so that modality
is simply absent for the clip (and counted). A stream that exists but cannot be decoded raises
:class:`~mmer_tf.features.media.MediaError`, which the corpus featurizer records as a skipped clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.features.media import (SAMPLE_RATE, WAV_SUFFIXES, MediaError, NoVideoStream, container_duration,
                                   load_audio)
from mmer_tf.features.recipe import Clip, Recipe

Features = dict[str, tuple[np.ndarray, np.ndarray]]


def extract(clip: Clip, recipe: Recipe) -> tuple[Features, dict]:
    """``({modality: (intervals, features)}, stats)``; stats: media_seconds, frames, face_fallback, face_aligned, missing."""
    path = Path(clip.media)
    out: Features = {}
    stats = {"media_seconds": 0.0, "frames": 0, "face_fallback": 0, "face_aligned": 0, "missing": []}
    wave = None
    if recipe.audio != "none":
        wave = load_audio(path)
        if wave is None:
            stats["missing"].append("audio")
    duration = len(wave) / SAMPLE_RATE if wave is not None else None
    if recipe.audio != "none" and wave is not None:
        from mmer_tf.features.audio import encode_audio

        out["audio"] = encode_audio(wave, recipe)
    del wave
    video = Path(clip.video) if clip.video is not None else path
    if recipe.video != "none" and video.suffix.lower() in WAV_SUFFIXES:
        stats["missing"].append("vision")
    elif recipe.video != "none":
        from mmer_tf.features.video import encode_video

        if duration is None:
            duration = (clip.video_end - clip.video_start if clip.video is not None and clip.video_end
                        else container_duration(video))
        try:  # no separate probe for the stream: opening a container costs ~8 % of decoding a 720p clip
            intervals, features, vstats = encode_video(video, recipe, duration, start=clip.video_start,
                                                       end=clip.video_end, region=clip.video_region)
        except NoVideoStream:
            stats["missing"].append("vision")
        else:
            if duration is None:
                duration = float(intervals[-1, 1])
            out["vision"] = (intervals, features)
            stats["frames"] = vstats["frames"]
            stats["face_fallback"] = vstats["face_fallback"]
            stats["face_aligned"] = vstats["face_aligned"]
    if duration is None:
        if path.suffix.lower() in (".wav", ".flac", ".ogg"):
            from mmer_tf.features.media import load_audio as _load

            wave = _load(path)
            duration = len(wave) / SAMPLE_RATE if wave is not None else None
        else:
            duration = container_duration(path)
    if duration is None or not duration > 0:
        raise MediaError("cannot tell the clip's duration (no decodable audio or video)")
    if recipe.text != "none":
        if clip.text is None:
            stats["missing"].append("text")
        else:
            from mmer_tf.features.text import encode_text

            out["text"] = encode_text(clip.text, duration, recipe)
    stats["media_seconds"] = float(duration)
    return out, stats


def featurize_clip(clip: Clip, recipe: Recipe) -> Features:
    """``{modality: (intervals [T, 2] s, features [T, D] float32)}`` for one clip (used by ``predict``).

    Raises :class:`~mmer_tf.errors.MmerError` naming the file for unreadable media, or naming the flag
    for a recipe whose encoder cannot be loaded.
    """
    try:
        return extract(clip, recipe)[0]
    except MediaError as exc:
        raise MmerError(f"{clip.media}: {exc}") from None
