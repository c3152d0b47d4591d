"""One clip -> its feature sequences, the unit both the corpus featurizer and ``predict`` run.

A missing stream is not an error: a WAV has no picture and a silent video no sound, so that modality
is simply absent for the clip (and counted). A stream that exists but cannot be decoded raises
:class:`~mmer_tf.features.media.MediaError`, which the corpus featurizer records as a skipped clip.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.features.media import (SAMPLE_RATE, WAV_SUFFIXES, MediaError, NoVideoStream, container_duration,
                                   load_audio)
from mmer_tf.features.read_ahead import Background
from mmer_tf.features.recipe import Clip, Recipe

Features = dict[str, tuple[np.ndarray, np.ndarray]]


def extract(clip: Clip, recipe: Recipe) -> tuple[Features, dict]:
    """``({modality: (intervals, features)}, stats)``; stats: media_seconds, frames, face_fallback, face_aligned, missing.

    The audio track is decoded in a background thread while the video is (both decoders and OpenCV release
    the GIL, so the two overlap on a second core); the video's intervals are clipped to the clip's duration
    once the audio has told it.
    """
    path = Path(clip.media)
    out: Features = {}
    stats = {"media_seconds": 0.0, "frames": 0, "face_fallback": 0, "face_aligned": 0, "missing": []}
    decoding = Background(partial(load_audio, path)) if recipe.audio != "none" else None
    try:
        vision = _vision(clip, recipe)
    except BaseException:
        if decoding is not None:
            decoding.wait()
        raise
    wave = decoding.result() if decoding is not None else None
    if decoding is not None and wave is None:
        stats["missing"].append("audio")
    duration = len(wave) / SAMPLE_RATE if wave is not None else None
    if wave is not None:
        from mmer_tf.features.audio import encode_audio

        out["audio"] = encode_audio(wave, recipe)
    del wave
    if vision is _NO_PICTURE:
        stats["missing"].append("vision")
    elif vision is not None:
        intervals, features, vstats = vision
        stats.update(vstats)
        if duration is None:
            duration = _declared_duration(clip)
        if duration is None:
            duration = float(intervals[-1, 1])
        out["vision"] = (np.clip(intervals, 0.0, duration), features)
    if duration is None:
        if path.suffix.lower() in WAV_SUFFIXES:
            wave = load_audio(path)
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


_NO_PICTURE = object()  # _vision's answer for a file without a picture (a WAV, an audio-only container)


def _vision(clip: Clip, recipe: Recipe):
    """``(intervals, features, frame stats)`` of the clip's video, intervals not yet clipped to the clip's
    duration; ``None`` when the recipe reads no video, ``_NO_PICTURE`` when the file has none."""
    if recipe.video == "none":
        return None
    video = _video_path(clip)
    if video.suffix.lower() in WAV_SUFFIXES:
        return _NO_PICTURE
    from mmer_tf.features.video import encode_video

    try:  # no separate probe for the stream: opening a container costs ~8 % of decoding a 720p clip
        intervals, features, vstats = encode_video(video, recipe, None, start=clip.video_start,
                                                   end=clip.video_end, region=clip.video_region)
    except NoVideoStream:
        return _NO_PICTURE
    return intervals, features, {key: vstats[key] for key in ("frames", "face_fallback", "face_aligned")}


def _declared_duration(clip: Clip) -> float | None:
    """The picture's duration when no audio tells it: the clip's own stretch of a longer video, else what the
    container declares."""
    if clip.video is not None and clip.video_end:
        return clip.video_end - clip.video_start
    return container_duration(_video_path(clip))


def _video_path(clip: Clip) -> Path:
    """Where the clip's picture is: its own video file when it has one (IEMOCAP's dialog videos), else its media."""
    return Path(clip.video) if clip.video is not None else Path(clip.media)


def featurize_clip(clip: Clip, recipe: Recipe) -> Features:
    """``{modality: (intervals [T, 2] s, features [T, D] float32)}`` for one clip (used by ``predict``).

    Raises :class:`~mmer_tf.errors.MmerError` naming the file for unreadable media, or naming the flag
    for a recipe whose encoder cannot be loaded.
    """
    try:
        return extract(clip, recipe)[0]
    except MediaError as exc:
        raise MmerError(f"{clip.media}: {exc}") from None
