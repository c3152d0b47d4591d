"""Shared reading of benchmark pickles' padded ``[N, T, D]`` blocks into variable-length sequences.

MMSA and MultiBench store each split's modality as one zero-padded ``[N, T, D]`` array, sometimes with a
per-segment length. Our pipeline wants the real steps only (its masks come from the lengths), so the
padding must be cut off -- on the right side. The two suites disagree on the side (MultiBench pads at
the front and trims from the first non-zero text row; MMSA's loaders treat the first ``length`` steps as
real), and files in the wild were produced by several scripts, so :func:`padding_side` reads the side
from the data and reports it. A step is padding when it holds no finite non-zero value (the pipeline's
sanitising would turn it into zeros anyway), so ``-inf`` or NaN left in padded steps does not make them data.
Arrays are read in chunks of segments so a boolean mask never costs a copy of a whole split.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from mmer_tf.errors import MmerError

log = logging.getLogger(__name__)

CHUNK = 2048


def zero_rows(block: np.ndarray) -> np.ndarray:
    """``[N, T]`` bool: which steps hold no finite non-zero value (padding candidates)."""
    out = np.empty(block.shape[:2], dtype=bool)
    for start in range(0, block.shape[0], CHUNK):
        part = block[start:start + CHUNK]
        out[start:start + CHUNK] = ~np.any(np.isfinite(part) & (part != 0), axis=tuple(range(2, part.ndim)))
    return out


def padding_side(pad: np.ndarray, lengths: np.ndarray | None = None, default: str = "end") -> str:
    """``"front"`` or ``"end"``: where the padding of this block lies, by majority over its segments.

    With ``lengths``, a segment votes for the side whose ``T - length`` rows are all padding (and not the
    other). Without, a segment votes by which of its first/last step is padding.
    """
    n, steps = pad.shape
    if lengths is not None:
        short = np.flatnonzero((lengths > 0) & (lengths < steps))
        front = end = 0
        for i in short:
            cut = steps - int(lengths[i])
            f, e = bool(pad[i, :cut].all()), bool(pad[i, steps - cut:].all())
            front += f and not e
            end += e and not f
    else:
        first, last = pad[:, 0], pad[:, -1]
        front = int(np.count_nonzero(first & ~last))
        end = int(np.count_nonzero(last & ~first))
    if front == end:
        return default
    return "front" if front > end else "end"


def run_lengths(pad: np.ndarray, side: str) -> np.ndarray:
    """``[N]`` real steps per segment: ``T`` minus the contiguous padding run on ``side``."""
    n, steps = pad.shape
    if side == "front":
        real = ~pad
    else:
        real = ~pad[:, ::-1]
    has = real.any(axis=1)
    first_real = np.where(has, real.argmax(axis=1), steps)
    return (steps - first_real).astype(np.int64)


def check_lengths(lengths, n: int, steps: int, where: str) -> np.ndarray:
    """Integer lengths in ``[0, T]``, one per segment, or a one-line error naming ``where``."""
    raw = np.asarray(lengths)
    if raw.ndim != 1 or raw.shape[0] != n:
        raise MmerError(f"{where}: {raw.shape} lengths for {n} segments (expected [{n}])")
    try:
        values = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise MmerError(f"{where}: lengths are not numbers") from None
    bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)) | (values < 0) | (values > steps))
    if bad.size:
        raise MmerError(f"{where}: length {raw[bad[0]]} of segment {bad[0]} is not an integer in [0, {steps}]")
    return values.astype(np.int64)


def sequences(block: np.ndarray, lengths: np.ndarray, side: str) -> list[np.ndarray]:
    """``[T_i, D]`` float32 per segment: the ``lengths[i]`` real steps, as views when already float32."""
    steps = block.shape[1]
    if block.dtype != np.float32:
        block = block.astype(np.float32)
    if side == "front":
        return [block[i, steps - int(length):] for i, length in enumerate(lengths)]
    return [block[i, :int(length)] for i, length in enumerate(lengths)]


def float_block(value, where: str, rank: int = 3) -> np.ndarray:
    """``value`` as a numeric ndarray of ``rank`` dims, or a one-line error naming ``where``."""
    if not isinstance(value, np.ndarray):
        try:
            value = np.asarray(value)
        except Exception:
            raise MmerError(f"{where}: not an array") from None
    if value.dtype.kind not in "fiub":
        raise MmerError(f"{where}: dtype {value.dtype} is not numeric")
    if value.ndim != rank:
        raise MmerError(f"{where}: shape {value.shape}, expected {rank} dims [N, T, D]")
    return value


def id_strings(raw, n: int, prefix: str) -> list[str]:
    """Segment ids as strings (bytes decoded, id rows such as ``[video, clip]`` joined by ``$_$``)."""
    if raw is None:
        return [f"{prefix}{i}" for i in range(n)]
    out = []
    for value in list(raw):
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, (np.ndarray, list, tuple)):
            parts = np.asarray(value).reshape(-1).tolist()
            value = "$_$".join(p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p) for p in parts)
        out.append(str(value))
    return out


def unique(ids: list[str]) -> tuple[list[str], int]:
    """Ids made unique across splits (a repeat gets ``#2``, ``#3``, ...), and how many were renamed."""
    seen: dict[str, int] = {}
    out, renamed = [], 0
    for value in ids:
        count = seen.get(value, 0) + 1
        seen[value] = count
        if count > 1:
            renamed += 1
            value = f"{value}#{count}"
        out.append(value)
    return out, renamed


def find_markers(path, markers: tuple[bytes, ...], window: int = 64 << 20) -> set[bytes]:
    """Which of ``markers`` (dict keys as pickled strings) occur in the file: head and tail first, then all.

    Cheap layout detection for a pickle without unpickling it: a split dict's keys are stored as short
    strings between the array payloads.
    """
    import mmap

    found: set[bytes] = set()
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return found
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            for marker in markers:
                if view.find(marker, 0, window) >= 0 or view.find(marker, max(0, size - window)) >= 0:
                    found.add(marker)
            for marker in markers:
                if marker not in found and size > 2 * window and view.find(marker) >= 0:
                    found.add(marker)
    return found


SPLIT_KEYS = {"train": ("train",), "valid": ("valid", "val", "dev"), "test": ("test",)}


def split_dicts(data, path) -> dict[str, dict]:
    """``{"train", "valid", "test"}: split dict`` (``val``/``dev`` accepted for valid), or a one-line error."""
    if not isinstance(data, dict):
        raise MmerError(f"{path}: top level is {type(data).__name__}, expected a dict of splits (train/valid/test)")
    out = {}
    for fold, names in SPLIT_KEYS.items():
        key = next((k for k in names if k in data), None)
        if key is None:
            raise MmerError(f"{path}: no {fold!r} split (top-level keys: {', '.join(map(str, data))})")
        if not isinstance(data[key], dict):
            raise MmerError(f"{path}: split {key!r} is {type(data[key]).__name__}, expected a dict of arrays")
        out[fold] = data[key]
    return out


def label_vector(value, path, fold: str, key: str) -> np.ndarray:
    """One score per segment from ``[N]``, ``[N, 1]`` or ``[N, 1, 1]``, or a one-line error."""
    try:
        labels = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise MmerError(f"{path}: split {fold!r}: {key} are not numbers") from None
    n = labels.shape[0] if labels.ndim else 0
    if labels.ndim == 0 or labels.size != n:
        raise MmerError(f"{path}: split {fold!r}: {key} shape {labels.shape}, expected one score per segment ([N] or [N, 1])")
    return labels.reshape(n)


def check_sentiment(labels: np.ndarray, ids: list[str], path, fold: str) -> None:
    """Sentiment scores must be finite and in [-3, 3] (CMU-MOSI/MOSEI's scale)."""
    bad = np.flatnonzero(~np.isfinite(labels) | (labels < -3) | (labels > 3))
    if bad.size:
        i = bad[0]
        raise MmerError(
            f"{path}: split {fold!r} segment {ids[i]!r}: sentiment label {float(labels[i])!r} is not in [-3, 3] "
            f"({bad.size} such labels)"
        )


def note_dropped(dropped: dict, examples: dict, reason: str, ids, limit: int = 5) -> None:
    """Count ``ids`` under ``reason`` and keep the first few as examples (the load summary's shape)."""
    ids = list(ids)
    if not ids:
        return
    dropped[reason] = dropped.get(reason, 0) + len(ids)
    kept = examples.setdefault(reason, [])
    kept.extend(ids[: max(0, limit - len(kept))])


def validate_splits(splits: dict[str, dict], path, label_key: str, modalities) -> bool:
    """Check every split's keys, labels and shapes before converting any (nothing half-done on bad input).

    Each modality block becomes float32 ``[N, T, D]`` in place; feature sizes must agree across splits.
    Returns True when, in every split, all modalities share one ``T`` (the aligned layout).
    """
    dims: dict[str, set] = {m: set() for m in modalities}
    aligned = True
    for fold, split in splits.items():
        missing = [k for k in tuple(modalities) + (label_key,) if k not in split]
        if missing:
            raise MmerError(f"{path}: split {fold!r} lacks {', '.join(missing)} (keys: {', '.join(map(str, split))})")
        n = label_vector(split[label_key], path, fold, label_key).shape[0]
        if n == 0:
            raise MmerError(f"{path}: split {fold!r} has no segments")
        for m in modalities:
            block = float_block(split[m], f"{path}: split {fold!r} {m}")
            if block.shape[0] != n:
                raise MmerError(f"{path}: split {fold!r}: {m} has {block.shape[0]} segments but {label_key} has {n}")
            split[m] = block
            dims[m].add(block.shape[2])
        aligned &= len({split[m].shape[1] for m in modalities}) == 1
    for m, values in dims.items():
        if len(values) > 1:
            raise MmerError(f"{path}: {m} feature sizes differ between splits ({sorted(values)})")
    return aligned


def describe_pickle(path, name: str, label_names, version: int, what: str, example: str):
    """The ``CorpusInfo`` of a one-file pickle corpus (its own split, keyed by the file and adapter version)."""
    from pathlib import Path

    from mmer_tf.data.corpora.base import CorpusInfo

    path = Path(path)
    if not path.is_file():
        raise MmerError(f"-df {path}: {what} corpus is one pickle file ({example})")
    if path.stat().st_size == 0:
        raise MmerError(f"{path}: empty file")
    return CorpusInfo(
        name=name, path=path, files=(path,), label_names=tuple(label_names),
        params={"adapter_version": version}, has_own_split=True, description=f"{what} pickle ({path.name})",
    )


def assemble(splits: dict[str, dict], path, label_key: str, aligned: bool, measure, *,
             no_segments_left: str, label_names=("sentiment",), extra_labels=None):
    """Padded split dicts (validated by :func:`validate_splits`) -> one ``SegmentSet`` and its load summary.

    The pickle layouts differ only in how a segment's real steps are found and which segments are dropped;
    ``measure(split, ids, fold, drop)`` answers that, returning ``(lengths {m: [N]}, sides {m: side},
    keep [N] bool)`` and calling ``drop(reason, ids)`` for what it leaves out. Everything else (ids,
    sentiment range check, cutting the padding, the file's own split, the summary) is the same here.
    Blocks are released split by split, so the corpus is not held twice. ``extra_labels``
    (``{label name: key}``, in ``label_names`` order after the first) adds label columns read and
    checked like the main one (CH-SIMS's unimodal ``regression_labels_A/V/T``).
    """
    from mmer_tf.data.segments import FOLDS, SegmentSet

    path = Path(path)
    modalities = ("text", "audio", "vision")
    ids_all: list[str] = []
    folds: list[str] = []
    features: dict[str, list[np.ndarray]] = {m: [] for m in modalities}
    labels_all = []
    dropped: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    sides: dict[str, str] = {}
    per_split = {}
    for fold in FOLDS:
        split = splits[fold]
        labels = label_vector(split[label_key], path, fold, label_key)
        n = labels.shape[0]
        ids = id_strings(split.get("id"), n, f"{fold}_")
        if len(ids) != n:
            raise MmerError(f"{path}: split {fold!r}: {len(ids)} ids for {n} segments")
        check_sentiment(labels, ids, path, fold)
        columns = [labels]
        for key in (extra_labels or {}).values():
            if key not in split:
                raise MmerError(f"{path}: split {fold!r} lacks {key!r} (other splits have it)")
            extra = label_vector(split[key], path, fold, key)
            if extra.shape[0] != n:
                raise MmerError(f"{path}: split {fold!r}: {key} has {extra.shape[0]} segments but {label_key} has {n}")
            check_sentiment(extra, ids, path, fold)
            columns.append(extra)
        labels = np.stack(columns, axis=1)
        lengths, side, keep = measure(split, ids, fold,
                                      lambda reason, which: note_dropped(dropped, examples, reason, which))
        for m, where in side.items():
            sides.setdefault(m, where)
        index = np.flatnonzero(keep)
        if index.size == 0:
            raise MmerError(f"{path}: split {fold!r} has no segments left ({no_segments_left})")
        for m in modalities:
            seqs = sequences(split[m], lengths[m], side[m])
            features[m].extend(seqs[i] for i in index)
            split[m] = None  # release what no sequence views
        ids_all.extend(ids[i] for i in index)
        folds.extend([fold] * index.size)
        labels_all.append(labels[index].astype(np.float32))
        per_split[fold] = int(index.size)
        log.info("%s: %s: %d segments (%d dropped)", path.name, fold, index.size, n - index.size)
    ids_all, renamed = unique(ids_all)
    log.info("%s: %s view, padding at the %s", path.name, "aligned" if aligned else "unaligned",
             ", ".join(f"{where} ({m})" for m, where in sides.items()))
    segments = SegmentSet(
        ids=ids_all, features=features, labels=np.concatenate(labels_all), aligned=aligned,
        info={"label_names": list(label_names), "classes": [], "fold": folds},
    )
    summary = {
        "segments": len(segments),
        "dropped": dropped,
        "dropped_examples": examples,
        "splits": per_split,
        "aligned": aligned,
        "padding": sides,
        "renamed_duplicate_ids": renamed,
        "file": str(path),
    }
    return segments, summary
