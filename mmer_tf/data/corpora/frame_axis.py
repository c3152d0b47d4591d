"""Featurized videos on one frame axis, with a label per frame: the segments of a frame-labelled corpus.

A corpus labelled per frame (C-EXPR-DB's annotated videos, ABAW's per-frame files) is read as whole
videos: one segment per video, its steps the *vision* rows of the featurized folder (the recipe's
``fps``; audio's rows when a video has no picture). Every other modality is brought to those steps:
a step takes the mean of the rows whose interval overlaps it, else the last row that started before it
(speech pauses hold the last word), else zeros (before the first row). Each step's label is asked of the
adapter at the step's mid-time (NaN: no label). The result is an aligned :class:`SegmentSet` with
``frame_labels``, which :mod:`mmer_tf.frame_level` windows and scores.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from mmer_tf.data.corpora.dropped import Dropped
from mmer_tf.data.corpora.media import Labelling, failed_media, open_sequences
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError

log = logging.getLogger(__name__)

AXIS_ORDER = ("vision", "audio", "text")


def to_axis(intervals: np.ndarray, features: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Rows ``(intervals [R, 2], features [R, D])`` on the steps ``axis [T, 2]`` (see the module docstring)."""
    features = np.asarray(features, np.float32)
    if features.ndim != 2:
        features = features.reshape(len(features), -1)
    out = np.zeros((len(axis), features.shape[1]), np.float32)
    if not len(features):
        return out
    order = np.argsort(intervals[:, 0], kind="stable")
    intervals, features = intervals[order], features[order]
    overlap = (np.minimum(axis[:, None, 1], intervals[None, :, 1])
               - np.maximum(axis[:, None, 0], intervals[None, :, 0])) > 0          # [T, R]
    counts = overlap.sum(axis=1)
    out[counts > 0] = (overlap[counts > 0].astype(np.float32) @ features) / counts[counts > 0, None]
    started = np.searchsorted(intervals[:, 0], axis[:, 0], side="right") - 1       # last row started before
    hold = (counts == 0) & (started >= 0)
    out[hold] = features[started[hold]]
    return out


def frame_segments(folder: Path, rows: Sequence[Mapping[str, str]], labelling: Labelling, *,
                   frame_labels: Callable[[Mapping[str, str], np.ndarray], np.ndarray], marker: Mapping,
                   progress: bool = False) -> tuple[SegmentSet, dict]:
    """One segment per labelled video of ``rows`` on its frame axis; ``frame_labels(row, mid_times)`` gives
    the class index per step (NaN: unlabelled)."""
    folder = Path(folder)
    readers = open_sequences(folder)
    dropped = Dropped()
    drop = dropped.add
    failed = failed_media(marker)
    modalities = [m for m in AXIS_ORDER if m in readers]
    ids, labels, folds, features, per_frame = [], [], [], {m: [] for m in modalities}, []
    try:
        listed = {m: set(r.video_ids()) for m, r in readers.items()}
        for number, (row, y, fold, why) in enumerate(zip(rows, labelling.label, labelling.fold, labelling.excluded)):
            cid = row["id"]
            if y is None:
                drop(why or "excluded", cid)
                continue
            axis_modality = next((m for m in ("vision", "audio") if cid in listed.get(m, ())), None)
            if axis_modality is None:
                drop(f"unreadable media ({failed[cid]})" if cid in failed else "no vision or audio rows", cid)
                continue
            axis, _ = readers[axis_modality].read(cid)
            order = np.argsort(axis[:, 0], kind="stable")
            axis = axis[order]
            for m in modalities:
                if cid in listed[m]:
                    intervals, values = readers[m].read(cid)
                else:  # e.g. a video without words: zeros of the modality's width
                    intervals, values = np.zeros((0, 2)), np.zeros((0, readers[m].dim), np.float32)
                features[m].append(to_axis(intervals, values, axis))
            mids = axis.mean(axis=1)
            step_labels = np.asarray(frame_labels(row, mids), np.float32).reshape(-1, 1)
            if step_labels.shape[0] != len(axis):
                raise MmerError(f"{cid}: {step_labels.shape[0]} frame labels for {len(axis)} steps")
            ids.append(f"{cid}[0]")
            labels.append(float(y))
            folds.append(fold)
            per_frame.append(step_labels)
            if progress and (number + 1) % 50 == 0:
                log.info("frame axis: %d/%d videos", number + 1, len(rows))
    finally:
        for reader in readers.values():
            reader.close()
    segments = SegmentSet(ids=ids, features=features, labels=np.asarray(labels, np.float32).reshape(-1, 1),
                          aligned=True, frame_labels=per_frame)
    segments.info.update(label_names=["category"], classes=list(labelling.classes), fold=folds, per_segment={},
                         recipe=dict(marker.get("recipe") or {}), featurized=str(folder.resolve()),
                         aligned_view=True, frame_level=True)
    counts = Counter(folds)
    labelled = int(sum(np.isfinite(y).sum() for y in per_frame))
    summary = {"segments": len(ids), "folds": {f: counts.get(f, 0) for f in ("train", "valid", "test")},
               "frames": int(sum(len(y) for y in per_frame)), "labelled_frames": labelled,
               **dropped.summary(), "featurized": str(folder), "recipe": marker.get("recipe"), "aligned": True}
    dropped.log(log, "video(s)")
    return segments, summary


__all__ = ["frame_segments", "to_axis"]
