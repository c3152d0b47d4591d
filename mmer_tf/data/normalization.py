"""Per-segment feature preparation: sanitising and normalisation.

Ragged folds (one ``[T_i, D]`` array per segment) are processed *packed*: all segments of a modality
concatenated into one ``[sum T_i, D]`` array plus ``offsets`` ``[N + 1]`` (segment i is rows
``offsets[i]:offsets[i+1]``). Per-segment statistics are then one ``np.add.reduceat`` over the packed
array instead of a Python loop over segments; the cache stores exactly this packed layout.

Normalisation (``ExperimentConfig.normalization``) applies to audio and vision only -- text (word
vectors) is never normalised, as in the seed:

* ``"segment"`` -- the seed's method: each segment's features are z-scored over that segment's own
  time steps. The seed divided by a zero standard deviation and relied on ``nan_to_num`` to turn the
  resulting NaNs into 0; here a zero-variance feature is centred and left unscaled, which gives the same
  0 without producing NaN.
* ``"train"`` -- the better option: one mean/std per feature over *all training time steps*, applied to
  train, valid and test alike (no test-set statistics leak into training, and per-segment level
  information survives).
* ``"none"`` -- values as read (after sanitising).

Sanitising comes first in every case: NaN and ±inf (COVAREP has both) become 0, so one bad frame never
turns a whole segment's statistics into NaN.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError

NORMALIZATIONS = ("segment", "train", "none")
NORMALIZED_MODALITIES = ("audio", "vision")
_MIN_STD = 1e-6  # below this a feature is treated as constant


def pack(sequences: Sequence[np.ndarray], dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``[T_i, D]`` arrays -> (``[sum T_i, D]`` float32, ``offsets [N + 1]`` int64)."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if dim is None:
        dim = int(sequences[0].shape[-1]) if len(sequences) else 0
    if offsets[-1] == 0:
        return np.zeros((0, dim), dtype=np.float32), offsets
    return np.concatenate([np.asarray(s, dtype=np.float32).reshape(-1, dim) for s in sequences]), offsets


def unpack(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """Inverse of :func:`pack`: views into ``flat`` (no copies)."""
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def sanitize(flat: np.ndarray) -> np.ndarray:
    """float32 copy with NaN, +inf and -inf set to 0."""
    return np.nan_to_num(np.asarray(flat, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def _segment_sums(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``[N, D]`` per-segment sums (float64); empty segments sum to 0."""
    n = len(offsets) - 1
    sums = np.zeros((n, flat.shape[1]), dtype=np.float64)
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    if len(nonempty):
        # Starts of non-empty segments are strictly increasing and each runs to the next one's start.
        sums[nonempty] = np.add.reduceat(flat.astype(np.float64, copy=False), offsets[nonempty], axis=0)
    return sums


def segment_zscore(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Z-score every segment over its own steps (population std); constant features become 0."""
    lengths = np.diff(offsets)
    counts = np.maximum(lengths, 1)[:, None]
    mean = _segment_sums(flat, offsets) / counts
    owner = np.repeat(np.arange(len(lengths)), lengths)
    centred = flat.astype(np.float64) - mean[owner]
    std = np.sqrt(_segment_sums(centred * centred, offsets) / counts)
    std[std < _MIN_STD] = 1.0
    return (centred / std[owner]).astype(np.float32)


def train_statistics(flat: np.ndarray, what: str = "the training fold") -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over all (training) steps; a constant feature gets std 1."""
    data = flat.astype(np.float64, copy=False)
    if len(data) == 0:
        raise MmerError(f"{what} has no time steps (every segment is empty), so there is nothing to train on")
    mean = data.mean(axis=0)
    std = data.std(axis=0)
    std[std < _MIN_STD] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def apply_statistics(flat: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((flat - mean) / std).astype(np.float32)


def normalize_folds(
    folds: Mapping[str, SegmentSet],
    normalization: str = "train",
    modalities: Sequence[str] = NORMALIZED_MODALITIES,
) -> tuple[dict[str, SegmentSet], dict]:
    """Sanitise every modality of every fold, then normalise ``modalities`` (audio, vision) as asked.

    Returns new folds (inputs untouched) and ``{"normalization", "statistics": {modality: {"mean",
    "std"}}}`` (statistics only for ``"train"``, as lists, so they can go into a JSON manifest).
    """
    if normalization not in NORMALIZATIONS:
        raise MmerError(f"normalization={normalization!r}: expected one of {', '.join(NORMALIZATIONS)}")
    stats: dict[str, dict] = {}
    if normalization == "train":
        if "train" not in folds:
            raise MmerError("normalization='train' needs a 'train' fold")
        if len(folds["train"]) == 0:
            # The cause is upstream (everything dropped while loading or splitting), not the normalisation.
            raise MmerError("the training fold has no segments: every segment was dropped while loading or "
                            "splitting (see the load summary for the reasons and counts)")
        for m in modalities:
            if m in folds["train"].features:
                what = f"modality '{m}' of the training fold ({len(folds['train'])} segments)"
                mean, std = train_statistics(sanitize(pack(folds["train"].features[m])[0]), what)
                stats[m] = {"mean": mean, "std": std}
    result = {name: normalize_set(fold, normalization, stats, modalities) for name, fold in folds.items()}
    report = {
        "normalization": normalization,
        "statistics": {m: {k: v.tolist() for k, v in s.items()} for m, s in stats.items()},
    }
    return result, report


def normalize_set(segments: SegmentSet, normalization: str, statistics: Mapping[str, Mapping[str, np.ndarray]],
                  modalities: Sequence[str] = NORMALIZED_MODALITIES, *, source: str = "") -> SegmentSet:
    """One set sanitised and normalised as :func:`normalize_folds` does each fold: per segment, or with the
    given training ``statistics`` (``{modality: {"mean", "std"}}``). ``predict`` uses it with a model's saved
    statistics; ``source`` names them, and then a normalised modality without statistics is an error
    (without ``source`` it is left as it is, as a modality the training fold lacked)."""
    features = {}
    for m, seqs in segments.features.items():
        flat, offsets = pack(seqs)
        flat = sanitize(flat)
        if m in modalities and normalization == "segment":
            flat = segment_zscore(flat, offsets)
        elif m in modalities and normalization == "train":
            if m in statistics:
                flat = apply_statistics(flat, statistics[m]["mean"], statistics[m]["std"])
            elif source:
                raise MmerError(f"{source}: no training statistics for {m} (normalization 'train')")
        features[m] = unpack(flat, offsets)
    return SegmentSet(ids=list(segments.ids), features=features, labels=segments.labels, aligned=segments.aligned,
                      info=dict(segments.info), frame_labels=segments.frame_labels)
