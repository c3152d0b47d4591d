"""What a fine-tuned encoder reads, prepared ONCE per clip and cached: face crops, or log-mel frames.

Why a cache: a fine-tuned encoder reads its input in every epoch, and decoding plus face detection (or
resampling and the mel transform) costs far more than a training step on a small backbone. It happens here
once per clip; training reads the arrays back.

- vision (:class:`FrameParams`): frames sampled at ``fps``, face-cropped as the video recipes crop them (the
  same tracker, eye levelling and centre-square fallback: ``features/video.py``), resized to the backbone's
  input size: uint8 ``[T, S, S, 3]``, at most ``max_frames`` frames (evenly spaced);
- audio (:class:`MelParams`): the 16 kHz waveform through the preset's audio converter (Whisper's log-mel
  frames, its own normalisation over its window), only the frames over real audio: float32 ``[F, mels]``; a
  clip longer than the converter's window keeps its first window.

Where: the cache folder (``-pf``), ``finetune_frames_<key>/`` or ``finetune_mels_<key>/``, where ``key``
fingerprints every parameter that shapes the arrays (size, fps, face crop, frame cap; the converter's
configuration; this format's version): a different preset size or crop never reuses them. One ``.npy`` per
clip, named by a digest of its media file's signature (path, size, mtime) and the stretch/half of the
picture it uses, so a changed file is decoded again and every corpus, fold and run shares the entries.
Files are written atomically (hidden temporary, then renamed), so a killed run leaves no half-written array.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 1
MAX_FRAMES = 32  # frames kept per clip (evenly spaced when a clip has more): bounds a batch's activations


@dataclass(frozen=True)
class FrameParams:
    """What shapes a clip's cached frames."""

    size: int
    fps: float
    face_crop: bool
    max_frames: int = MAX_FRAMES

    def key(self) -> str:
        text = json.dumps({"format": FORMAT, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def folder(self, pickle_folder: str | Path) -> Path:
        return Path(pickle_folder) / f"finetune_frames_{self.key()}"

    def nbytes(self, frames: int) -> int:
        return int(frames) * self.size * self.size * 3

    @property
    def step(self) -> tuple[tuple[int, ...], str]:
        """One step's shape and dtype in the cached arrays."""
        return (self.size, self.size, 3), "uint8"

    def source(self, clip) -> tuple[Path, float, float | None, str]:
        return _picture(clip)

    def decode(self, clip) -> np.ndarray:
        return decode(clip, self)


@dataclass(frozen=True)
class MelParams:
    """What shapes a clip's cached log-mel frames: the audio converter's Keras serialisation (JSON)."""

    converter: str

    @classmethod
    def of(cls, converter) -> "MelParams":
        import keras

        return cls(json.dumps(keras.saving.serialize_keras_object(converter), sort_keys=True))

    def key(self) -> str:
        text = json.dumps({"format": FORMAT, "kind": "mels", "converter": json.loads(self.converter)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def folder(self, pickle_folder: str | Path) -> Path:
        return Path(pickle_folder) / f"finetune_mels_{self.key()}"

    @property
    def step(self) -> tuple[tuple[int, ...], str]:
        return (int(json.loads(self.converter)["config"]["num_mels"]),), "float32"

    def source(self, clip) -> tuple[Path, float, float | None, str]:
        return Path(clip.media), 0.0, None, ""

    def decode(self, clip) -> np.ndarray:
        """``float32 [F, mels]``: the converter's log-mel frames over the clip's real audio (first window)."""
        from mmer_tf.features.media import MediaError, SAMPLE_RATE, load_audio

        wave = load_audio(Path(clip.media))
        if wave is None or not len(wave):
            raise MediaError("no audio stream")
        converter = _converter(self.converter)
        window = int(float(converter.max_audio_length) * SAMPLE_RATE)
        piece = np.asarray(wave[:window], np.float32)
        mels = np.asarray(converter(piece[np.newaxis]), np.float32)[0]
        real = max(1, min(len(mels), int(np.ceil(len(piece) / int(converter.stride)))))
        return np.ascontiguousarray(mels[:real])


@lru_cache(maxsize=4)
def _converter(serialized: str):
    """The audio converter from its Keras serialisation (what :class:`MelParams` holds)."""
    import keras
    import keras_hub  # noqa: F401  (registers the converter classes)

    return keras.saving.deserialize_keras_object(json.loads(serialized))


def _picture(clip) -> tuple[Path, float, float | None, str]:
    if clip.video is not None:
        return Path(clip.video), float(clip.video_start), clip.video_end, clip.video_region
    return Path(clip.media), 0.0, None, ""


def entry_name(clip, params=None) -> str:
    """The clip's cache file name: its source file's signature and stretch (the picture's by default), hashed."""
    from mmer_tf.data.cache import file_signature

    path, start, end, region = params.source(clip) if params is not None else _picture(clip)
    text = json.dumps([file_signature(path), start, end, region])
    return hashlib.sha256(text.encode()).hexdigest()[:24] + ".npy"


def decode(clip, params: FrameParams) -> np.ndarray:
    """``uint8 [T, size, size, 3]``: the clip's sampled frames, face-cropped as the video recipes crop them."""
    import cv2

    from mmer_tf.features.media import MediaError, iter_frames
    from mmer_tf.features.video import FaceTracker, crop, region_of

    path, start, end, region = _picture(clip)
    tracker = FaceTracker()
    out = []
    for _, rgb in iter_frames(path, params.fps, start, end):
        face, _ = crop(region_of(rgb, region), params.face_crop, tracker)
        out.append(cv2.resize(np.ascontiguousarray(face), (params.size, params.size), interpolation=cv2.INTER_AREA))
    if not out:
        raise MediaError("no video frames decoded")
    frames = np.stack(out).astype(np.uint8)
    if len(frames) > params.max_frames:
        frames = frames[np.linspace(0, len(frames) - 1, params.max_frames).round().astype(np.int64)]
    return np.ascontiguousarray(frames)


def ensure(clips: Iterable, params, pickle_folder: str | Path) -> tuple[dict, dict]:
    """``({clip id: cache file}, {clip id: reason})``: every clip's arrays (``params``: :class:`FrameParams`
    or :class:`MelParams`) cached, decoded when missing.

    A clip whose picture cannot be decoded is returned with its reason, never stopping the others.
    """
    from mmer_tf.data.cache import remove_stale_partials
    from mmer_tf.errors import MmerError
    from mmer_tf.features.media import MediaError
    from mmer_tf.fileio import atomic_write

    folder = params.folder(pickle_folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MmerError(f"{folder}: cannot create the frame cache ({exc.strerror or exc})") from None
    remove_stale_partials(folder)
    about = folder / "params.json"
    if not about.is_file():
        atomic_write(about, lambda h: h.write(json.dumps({"format": FORMAT, **asdict(params)}).encode()))
    paths, failed = {}, {}
    decoded = 0
    for clip in clips:
        try:
            target = folder / entry_name(clip, params)
        except OSError as exc:
            failed[clip.id] = f"{exc.strerror or exc}"
            continue
        if not target.is_file():
            try:
                frames = params.decode(clip)
            except MediaError as exc:
                failed[clip.id] = str(exc)
                continue
            try:
                atomic_write(target, lambda h: np.save(h, frames, allow_pickle=False), fsync=False,
                             prefix=f".{target.name}.{os.getpid()}.", suffix=".partial")
            except OSError as exc:
                raise MmerError(f"{target}: cannot write the frame cache ({exc.strerror or exc}); free space "
                                f"or point -pf at another folder") from None
            decoded += 1
        paths[clip.id] = target
    if decoded:
        log.info("finetune: %d clip(s) decoded and cached in %s", decoded, folder)
    return paths, failed


def lengths(paths: Mapping[str, Path]) -> dict[str, int]:
    """Frames per cached clip, from the ``.npy`` headers (nothing else is read)."""
    return {cid: int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0]) for cid, path in paths.items()}


__all__ = ["FrameParams", "MAX_FRAMES", "MelParams", "decode", "ensure", "entry_name", "lengths"]
