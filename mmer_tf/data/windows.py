"""Overlapping windows over long videos, and stitching per-window predictions back into one per frame.

A corpus labelled per frame (seed 002's C-EXPR-DB) holds whole videos of thousands of steps. Training
cuts them into windows of ``--window_length`` steps every ``--hop_length`` steps (the original's
``windowing``: starts ``0, hop, 2 hop, ...`` while a full window fits, plus one window ending on the last
frame when those miss it; a video shorter than a window is one window). Evaluation cuts the same way,
predicts every window and :func:`stitch` averages the windows' predictions where they overlap, so every
frame of every video gets exactly one prediction (the original's ``inference_forward_windows``).

Pure NumPy; no TensorFlow, no corpus knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError


def window_spans(length: int, window: int, hop: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(length)``; see the module docstring for the rule."""
    if window < 1:
        raise MmerError(f"--window_length must be >= 1, got {window}")
    if hop < 1:
        raise MmerError(f"--hop_length must be >= 1, got {hop}")
    if hop > window:  # the original accepts it and never predicts the frames between two windows
        raise MmerError(f"--hop_length {hop} must not exceed --window_length {window}: the frames between two "
                        "windows would never be predicted")
    length = int(length)
    if length <= window:
        return [(0, length)]
    spans = [(start, start + window) for start in range(0, length - window + 1, hop)]
    if spans[-1][1] < length:
        spans.append((length - window, length))
    return spans


@dataclass(frozen=True)
class WindowIndex:
    """Where each window of a windowed set came from: ``row`` (the video's row), ``start``, ``stop``."""

    row: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    lengths: np.ndarray  # frames per video, in the video set's row order


def cut(videos: SegmentSet, window: int, hop: int) -> tuple[SegmentSet, WindowIndex]:
    """Every video of ``videos`` (one time axis for every modality) as overlapping windows.

    Window ``k`` of video ``v`` has id ``<v id>@<start>``, the video's label row and, when the set carries
    per-frame labels, the window's slice of them.
    """
    if not videos.aligned:
        raise MmerError("windows: the videos' modalities must share one time axis (an aligned view)")
    modalities = videos.modalities
    lengths = videos.lengths(modalities[0]) if modalities else np.zeros(len(videos), np.int64)
    rows, starts, stops = [], [], []
    for row, length in enumerate(lengths):
        for start, stop in window_spans(int(length), window, hop):
            rows.append(row)
            starts.append(start)
            stops.append(stop)
    frame_labels = None
    if videos.frame_labels is not None:
        frame_labels = [videos.frame_labels[r][a:b] for r, a, b in zip(rows, starts, stops)]
    windows = SegmentSet(
        ids=[f"{videos.ids[r]}@{a}" for r, a in zip(rows, starts)],
        features={m: [videos.features[m][r][a:b] for r, a, b in zip(rows, starts, stops)] for m in modalities},
        labels=videos.labels[np.asarray(rows, np.int64)] if rows else videos.labels[:0],
        aligned=True, info=dict(videos.info), frame_labels=frame_labels,
    )
    index = WindowIndex(np.asarray(rows, np.int64), np.asarray(starts, np.int64), np.asarray(stops, np.int64),
                        np.asarray(lengths, np.int64))
    return windows, index


def stitch(predictions: Sequence[np.ndarray], index: WindowIndex) -> list[np.ndarray]:
    """Per-window predictions (``[T_k, K]``, or padded ``[B, T_max, K]``) -> ``[T_v, K]`` per video.

    Every frame gets the mean of the predictions of the windows that contain it (the original's overlap
    averaging); a frame no window covers is an error, not a zero.
    """
    if len(predictions) != len(index.row):
        raise MmerError(f"stitch: {len(predictions)} window predictions for {len(index.row)} windows")
    width = int(np.shape(predictions[0])[-1]) if len(predictions) else 0
    sums = [np.zeros((int(n), width), np.float64) for n in index.lengths]
    counts = [np.zeros(int(n), np.int64) for n in index.lengths]
    for pred, row, start, stop in zip(predictions, index.row, index.start, index.stop):
        steps = int(stop - start)
        sums[row][start:stop] += np.asarray(pred, np.float64)[:steps]
        counts[row][start:stop] += 1
    out = []
    for row, (total, count) in enumerate(zip(sums, counts)):
        if np.any(count == 0):
            raise MmerError(f"stitch: video row {row} has {int((count == 0).sum())} frames no window covers")
        out.append((total / count[:, None]).astype(np.float32))
    return out


__all__ = ["WindowIndex", "cut", "stitch", "window_spans"]
