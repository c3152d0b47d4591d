"""Decode media: any container's audio as 16 kHz mono float32, and video frames streamed at a chosen rate.

Every encoder downstream expects the same waveform (16 kHz mono, the input rate of YAMNet, VGGish,
TRILLsson and wav2vec-style models), so decoding and resampling happen once, here. Frames are
yielded one at a time so a long video never sits in memory. Anything a damaged file can make
FFmpeg/libsndfile raise becomes :class:`MediaError`, which the featurizer turns into a skipped clip.
"""

from __future__ import annotations

from fractions import Fraction
from math import floor
from pathlib import Path
from typing import Iterator

import numpy as np

SAMPLE_RATE = 16000
SKIP_RATIO = 4  # source frames per sample from which frames between the samples are left undecoded
PROBE_PACKETS = 64  # packets read ahead to see how often the stream's reference frames come
WAV_SUFFIXES = (".wav", ".flac", ".ogg")


class MediaError(Exception):
    """A media file that cannot be decoded; the message is the reason recorded for the skip."""


class NoVideoStream(MediaError):
    """The file holds no picture (a WAV, an audio-only container): its vision modality is missing, not broken."""


def load_audio(path: Path) -> np.ndarray | None:
    """The file's audio as a 16 kHz mono float32 waveform in [-1, 1]; ``None`` if it has no audio stream."""
    path = Path(path)
    if not path.is_file():
        raise MediaError("file not found")
    if path.stat().st_size == 0:
        raise MediaError("empty file")
    if path.suffix.lower() in WAV_SUFFIXES:
        return _load_soundfile(path)
    return _load_av(path)


def _load_soundfile(path: Path) -> np.ndarray:
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises its own error types for damaged headers/data
        raise MediaError(f"unreadable audio ({type(exc).__name__}: {exc})") from None
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        frac = Fraction(SAMPLE_RATE, int(rate))
        wave = resample_poly(wave, frac.numerator, frac.denominator).astype(np.float32)
    return np.ascontiguousarray(wave, dtype=np.float32)


def _open(path: Path):
    import av

    try:
        return av.open(str(path))
    except Exception as exc:  # av.error.* for damaged containers, OSError for unreadable files
        raise MediaError(f"cannot open container ({type(exc).__name__}: {exc})") from None


def _load_av(path: Path) -> np.ndarray | None:
    import av

    container = _open(path)
    try:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except Exception as exc:
            raise MediaError(f"audio decoding failed ({type(exc).__name__}: {exc})") from None
    finally:
        container.close()
    if not chunks:
        raise MediaError("audio stream has no samples")
    return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)


def has_video(path: Path) -> bool:
    """Whether the file is a container with a video stream (WAV and audio-only files are not)."""
    path = Path(path)
    if path.suffix.lower() in WAV_SUFFIXES:
        return False
    container = _open(path)
    try:
        return bool(_video_streams(container))
    finally:
        container.close()


def _video_streams(container) -> list:
    """Video streams that are pictures in time: an MP3/M4A's cover art (``attached_pic``) is not one."""
    import av

    return [s for s in container.streams.video
            if not (s.disposition & av.stream.Disposition.attached_pic)]


def container_duration(path: Path) -> float | None:
    """The container's declared duration in seconds, or ``None`` when it declares none."""
    container = _open(Path(path))
    try:
        if container.duration is not None:
            return float(container.duration) / 1_000_000
        for stream in container.streams:
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
        return None
    finally:
        container.close()


def iter_frames(path: Path, fps: float, start: float = 0.0, end: float | None = None, *, grey: bool = False
                ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(k, rgb uint8 [H, W, 3])`` for the first decoded frame at or after each sample time ``k / fps``.

    Sampling by timestamp (not by frame index) keeps the rate right for variable-frame-rate files;
    a source slower than ``fps`` simply yields fewer frames (each ``k`` at most once, increasing).
    With ``start``/``end`` only that stretch of the file is read (seeking to the key frame before
    ``start``, so a clip late in a long dialog video does not decode its beginning) and times are
    counted from ``start``.

    ``grey``: yield the decoded picture's luma plane instead, ``uint8 [H, W]`` in full range (what
    ``cvtColor(rgb, RGB2GRAY)`` gives, within 3 levels): a recipe that only needs grey levels then skips the
    colour conversion, which costs more than decoding a 720p H.264 frame.

    When the source has at least ``SKIP_RATIO`` frames per sample, frames between the samples are not all
    decoded (decoding is most of the cost of featurizing a 720p clip): B-frames are skipped when the file's
    first packets show a reference (I or P) frame in every sample interval (:func:`_refs_denser_than`;
    x264's defaults at 29.97 fps: a P every 2-4 frames, so 174 of 630 frames decoded instead of 324), else
    only the frames no other frame refers to. A sample then takes the next decoded frame, a few frames later
    at most, inside its ``1 / fps`` interval. Should a sample interval pass without a decoded frame while
    frames are skipped (long runs of B-frames, a pattern that changes), the stretch is decoded again from
    that sample on with the next lighter skip (B-frames -> non-reference frames -> none).
    """
    if Path(path).suffix.lower() in WAV_SUFFIXES:
        raise NoVideoStream("no video stream")
    last_k = -1
    discard: str | None = "BIDIR"  # the most that may be skipped; lightened by each missed sample
    while True:
        container = _open(Path(path))
        try:
            streams = _video_streams(container)
            if not streams:
                raise NoVideoStream("no video stream")
            stream = streams[0]
            rate = float(stream.average_rate) if stream.average_rate else 25.0
            if not (stream.average_rate and rate >= SKIP_RATIO * fps):
                discard = None  # too few frames per sample for skipping to pay
            resume = start + (last_k + 1) / fps if last_k >= 0 else start
            try:
                for k, frame in _samples(container, stream, fps, rate, start, resume, end, last_k, discard):
                    last_k = k
                    yield k, (luma(frame) if grey else frame.to_ndarray(format="rgb24"))
                return
            except _SampleMissed as missed:
                discard = _LIGHTER[missed.discard]  # and open the file again, from the missed sample on
            except MediaError:
                raise
            except Exception as exc:
                raise MediaError(f"video decoding failed ({type(exc).__name__}: {exc})") from None
        finally:
            container.close()


class _SampleMissed(Exception):
    """While frames were skipped (``discard``: FFmpeg's ``skip_frame``), a sample interval passed without one."""

    def __init__(self, discard: str):
        super().__init__(discard)
        self.discard = discard


_LIGHTER = {"BIDIR": "NONREF", "NONREF": None}


def _samples(container, stream, fps: float, rate: float, start: float, resume: float, end: float | None,
             after_k: int, discard: str | None) -> Iterator[tuple[int, object]]:
    """``(k, frame)`` for samples after ``after_k``, decoding from the key frame before ``resume``.

    ``discard``: what the decoder skips (``"BIDIR"`` when the first packets allow it, else ``"NONREF"``; ``None``:
    nothing); :class:`_SampleMissed` is raised when a sample goes without a frame while frames are skipped."""
    from itertools import chain, islice

    time_base = float(stream.time_base) if stream.time_base else 0.0
    if resume > 0 and time_base:
        container.seek(int(resume / time_base), stream=stream, backward=True, any_frame=False)
    latest = [None]  # the latest display time among the packets read before ``end``: the last sample owed

    def packets():
        for packet in container.demux(stream):
            if packet.pts is not None and time_base:
                t = packet.pts * time_base
                if (end is None or t < end) and (latest[0] is None or t > latest[0]):
                    latest[0] = t
            yield packet

    source = packets()
    if discard == "BIDIR":
        head = list(islice(source, PROBE_PACKETS))
        if not _refs_denser_than(head, time_base, 1.0 / fps):
            discard = "NONREF"
        source = chain(head, source)
    if discard is not None:
        stream.codec_context.skip_frame = discard
    last_k = after_k
    for index, frame in enumerate(f for packet in source for f in packet.decode()):
        t = frame.time if frame.time is not None else index / rate
        if end is not None and t >= end:
            break
        t -= start
        if t < -1e-6:
            continue
        k = int(floor(t * fps + 1e-6))
        if k <= last_k:
            continue
        if discard is not None and k > last_k + 1:
            raise _SampleMissed(discard)
        last_k = k
        yield k, frame
    if discard is not None and latest[0] is not None and int(floor((latest[0] - start) * fps + 1e-6)) > last_k:
        raise _SampleMissed(discard)


def _refs_denser_than(packets: list, time_base: float, interval: float) -> bool:
    """Whether, in these packets (decode order), a reference frame is displayed at least every ``interval`` s.

    A packet shown before one decoded earlier is a B-frame (it needs that later picture); the others are the I-
    and P-frames that skipping B-frames still decodes. Without timestamps nothing can be told: ``False``."""
    if not time_base or len(packets) < 2:
        return False
    refs: list[float] = []
    for packet in packets:
        if packet.pts is None:
            if packet.size:
                return False
            continue
        t = packet.pts * time_base
        if not refs or t > refs[-1]:
            refs.append(t)
    return len(refs) >= 2 and max(b - a for a, b in zip(refs, refs[1:])) < interval


_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"}
_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)


def luma(frame) -> np.ndarray:
    """A decoded frame's grey levels, ``uint8 [H, W]`` full range, read from its Y plane without conversion.

    Studio-range video (Y in 16..235, H.264's usual) is stretched to 0..255 by a lookup table, so the result
    matches the grey of the RGB picture; formats other than 8-bit planar YUV go through FFmpeg's converter.
    """
    import cv2

    name = frame.format.name
    if name not in _PLANAR_8BIT:
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, :frame.width]
    full = name.startswith("yuvj") or name == "gray" or int(frame.color_range or 0) == 2  # AVCOL_RANGE_JPEG
    return y.copy() if full else cv2.LUT(y, _LIMITED_TO_FULL)
