"""A fold's cached frames (or log-mel frames) as a tf.data input: each batch reads its clips' arrays from disk.

Why read per batch: a corpus's frames do not fit in memory (RAVDESS's 1,440 clips at 20 frames of
224 x 224 x 3 are 4.3 GB), and holding them as a tensor would also copy them into the graph. Only the
per-segment file names live in memory; a batch loads its ``B`` arrays (``np.load``; the page cache keeps hot
files), pads them to its longest clip and marks the real frames, so memory stays flat in corpus size.
Called by :func:`mmer_tf.data.pipeline.make_dataset` (its ``streams``) with the batch's segment indices,
so the shuffle, epoch order and resume rules are the pipeline's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


class FrameStream:
    """``index [B] -> {modality: [B, T, *step], modality_mask: float32 [B, T]}`` for one fold: cached arrays
    (uint8 face crops ``[S, S, 3]`` per step, or float32 log-mel frames ``[mels]``) padded after each clip's end."""

    def __init__(self, modality: str, paths: Sequence[str | Path], step: tuple[tuple[int, ...], str]):
        self.modality = modality
        self.paths = [str(p) for p in paths]
        self.shape, self.dtype = tuple(int(d) for d in step[0]), str(step[1])

    def read(self, index) -> tuple[np.ndarray, np.ndarray]:
        """The batch's arrays, zero-padded after each clip's last step, and the mask of real steps."""
        arrays = [np.load(self.paths[int(i)], allow_pickle=False) for i in np.asarray(index).reshape(-1)]
        steps = max((len(a) for a in arrays), default=0)
        out = np.zeros((len(arrays), steps, *self.shape), self.dtype)
        mask = np.zeros((len(arrays), steps), np.float32)
        for row, array in enumerate(arrays):
            out[row, :len(array)] = array
            mask[row, :len(array)] = 1.0
        return out, mask

    def __call__(self, index, rows_per_batch=None) -> dict:
        import tensorflow as tf

        values, mask = tf.numpy_function(self.read, [index], [tf.as_dtype(self.dtype), tf.float32], stateful=False)
        values = tf.ensure_shape(values, [rows_per_batch, None, *self.shape])
        mask = tf.ensure_shape(mask, [rows_per_batch, None])
        return {self.modality: values, f"{self.modality}_mask": mask}


__all__ = ["FrameStream"]
