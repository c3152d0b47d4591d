"""Alignment of computational sequences with the CMU Multimodal SDK's semantics, vectorised.

The SDK (``mmsdk/mmdatasdk/dataset/dataset.py``) aligns every sequence of a dataset to a *reference*
sequence: for each reference entry (a video) and each of its intervals ``i``, every other sequence's
rows of the same video (entries grouped by the stripped id ``key.split('[')[0]``, concatenated, stably
sorted by start time) that overlap the reference interval are copied, clipped to it, and stored under
the new entry ``'<key>[i]'``. Its rules, reproduced here exactly (same float expressions):

* epsilon is ``10e-6``; a reference interval with ``|start - end| < epsilon`` is skipped (no entry in
  any sequence, but the numbering keeps its index);
* a row ``[s0, s1]`` overlaps ``[r0, r1]`` when ``r1 - s0 > -eps`` and ``s1 - r0 > -eps``;
* overlapping rows are clipped to ``[max(s0, r0), min(s1, r1)]`` and kept when
  ``|clipped start - clipped end| > eps`` (zero-length pieces are dropped);
* the reference's own entry is its interval and feature row, unclipped;
* a sequence with no overlapping row gets no entry for that interval (a missing modality);
* with a collapse, a kept group becomes one row: interval ``[min, max]`` over all clipped bounds, and
  features reduced over axis 0 (mean by default, as the SDK examples' ``numpy.average``);
* :func:`unify`: videos (stripped ids) missing from any sequence are removed everywhere first;
* impute: reference entries missing in another sequence are filled with zeros over the reference's
  intervals (the SDK's ``impute``);
* hard unify: entries (exact keys) missing from any sequence are removed everywhere (the SDK's
  ``hard_unify``, i.e. segments with a missing modality are dropped).

Deliberate differences, all outside well-formed data: the SDK's ``unify`` purges every key that merely
*starts with* a missing video id (so dropping ``'abc'`` also drops ``'abcd'``); here only exact stripped
ids are removed. Intervals are computed in float64. A reference whose keys carry ``[..]`` is matched to
the others by its stripped id (the SDK raises ``KeyError`` there). Rows with NaN or reversed intervals
(end before start) are screened when read: removed from other sequences, skipped with their index kept in
a reference (the SDK would keep a reversed row as a reversed clipped piece), and counted in the report.

The API is plain functions on arrays (:func:`intersect`, :func:`collapse_groups`, :func:`align_group`)
plus a streaming driver (:func:`align_stream`) that reads, aligns and yields one video at a time, so
peak memory is bounded by the largest video, not the corpus. Only per-video Python loops; everything
per interval is NumPy (``searchsorted``-style vectorised bisection, sparse-product segment sums).

Why one module of ~800 lines: it is one specification, the SDK's alignment rules, in three layers marked
by section comments (interval kernels; entries and the SDK's operations on them; the streaming driver
with its drop report) that share the epsilon rule, the collapse reducers and the entry type, and
``tests/data/test_align.py`` checks them together against the SDK's own code. Split into files, every rule
would still need the others to be read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Protocol, Sequence, Union

import numpy as np

from mmer_tf.errors import MmerError

EPSILON = 10e-6  # the SDK's value (1e-5), used for every interval comparison

Collapse = Union[None, str, Callable[[np.ndarray], np.ndarray]]
REDUCERS = {"mean": np.add, "sum": np.add, "max": np.maximum, "min": np.minimum}


def stripped_id(key: str) -> str:
    """``'vid[3]'`` -> ``'vid'``: the SDK groups entries of one video by this."""
    return key.split("[")[0]


# ----------------------------------------------------------------------------------------------
# Array level
# ----------------------------------------------------------------------------------------------


def sort_by_start(intervals: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable sort of rows by start time (the SDK's ``sorted(..., key=start)``); no copy if sorted."""
    starts = intervals[:, 0]
    if len(starts) < 2 or bool(np.all(starts[1:] >= starts[:-1])):
        return intervals, features
    order = np.argsort(starts, kind="stable")
    return intervals[order], features[order]


def _first_false(predicate, guess: np.ndarray, n: int) -> np.ndarray:
    """For per-row monotone predicates over ``0..n-1`` (true, then false), the first false index.

    ``guess`` comes from ``np.searchsorted`` on a shifted bound; it is then moved, vectorised, until
    the exact predicate (the SDK's float expression) holds just before it and fails at it. Rounding
    makes the guess off by at most a few equal-valued rows, so this loop runs once or twice.
    """
    rows = np.arange(len(guess))
    index = np.clip(guess, 0, n).astype(np.int64)
    while True:
        back = (index > 0) & ~predicate(rows, np.maximum(index - 1, 0))
        ahead = ~back & (index < n) & predicate(rows, np.minimum(index, n - 1))
        if not (back.any() or ahead.any()):
            return index
        index = index - back + ahead


@dataclass
class Intersections:
    """Overlaps of reference intervals with a sequence's rows, grouped by reference row.

    ``ref_index[p]`` / ``row_index[p]``: reference row and sequence row of overlap ``p`` (sorted by
    reference row, then sequence row); ``intervals[p]``: the clipped interval.
    """

    ref_index: np.ndarray
    row_index: np.ndarray
    intervals: np.ndarray


def live_reference(reference: np.ndarray, epsilon: float = EPSILON) -> np.ndarray:
    """Mask of reference rows the SDK aligns to (it skips ``|start - end| < eps``; NaN is kept)."""
    return ~(np.abs(reference[:, 0] - reference[:, 1]) < epsilon)


def _candidate_rows(reference, intervals, reach, epsilon):
    """``[lo, hi)`` per reference row: the rows that may overlap it (``reach``: running max of ends).

    ``hi``: rows that start before the reference ends (a prefix, since starts are sorted); ``lo``: the
    first row whose running max end reaches the reference start. With sorted ends (``reach`` equal to
    them) every row in ``[lo, hi)`` overlaps, by the SDK's exact expressions.
    """
    n = len(intervals)
    r0, r1 = reference[:, 0], reference[:, 1]
    s0 = intervals[:, 0]
    hi = _first_false(lambda r, j: (r1[r] - s0[j]) > -epsilon, np.searchsorted(s0, r1 + epsilon), n)
    lo = _first_false(lambda r, j: ~((reach[j] - r0[r]) > -epsilon),
                      np.searchsorted(reach, r0 - epsilon, side="right"), n)
    return lo, hi


def kept_ranges(reference: np.ndarray, intervals: np.ndarray, epsilon: float = EPSILON):
    """Fast path of :func:`intersect` for well-formed frame-like rows, or ``None`` where it does not apply.

    Applies when the rows' starts *and* ends are non-decreasing, every row is longer than epsilon and
    every aligned reference row has ``end - start >= epsilon`` (no NaN). Then the rows overlapping
    reference ``r`` are exactly ``[lo, hi)`` and the clipped length ``min(s1, r1) - max(s0, r0)`` is
    non-decreasing over rows starting before ``r0``, above epsilon in the middle and non-increasing
    over rows ending after ``r1``: the kept rows form one range ``[a, b)``, found by trimming the
    (few) zero-length pieces from both ends, and the collapsed interval is
    ``[max(s0[a], r0), min(s1[b-1], r1)]``, the same floats as the min/max over the clipped pieces.

    Returns ``(a, b)`` for every reference row (``a == b``: no overlap, or a skipped reference row);
    no per-overlap arrays are built, which is what makes collapsing 100 Hz frames to words cheap.
    """
    reference = np.asarray(reference, dtype=np.float64)
    intervals = np.asarray(intervals, dtype=np.float64)
    m, n = len(reference), len(intervals)
    r0, r1 = reference[:, 0], reference[:, 1]
    s0, s1 = intervals[:, 0], intervals[:, 1]
    live = live_reference(reference, epsilon)
    if not (n and np.all(s1[1:] >= s1[:-1]) and np.all(s0[1:] >= s0[:-1]) and np.all(s1 - s0 > epsilon)
            and np.all(~live | (r1 - r0 >= epsilon))):
        return None
    if m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo, hi = _candidate_rows(reference, intervals, s1, epsilon)
    hi = np.where(live, np.maximum(hi, lo), lo)

    def kept(r, j):  # the SDK's keep test of the clipped piece of row j under reference r
        return np.abs(np.minimum(s1[j], r1[r]) - np.maximum(s0[j], r0[r])) > epsilon

    a, b = lo.astype(np.int64), hi.astype(np.int64)
    todo = np.flatnonzero(a < b)
    while todo.size:  # drop zero-length pieces at the front
        todo = todo[~kept(todo, a[todo])]
        a[todo] += 1
        todo = todo[a[todo] < b[todo]]
    todo = np.flatnonzero(a < b)
    while todo.size:  # and at the back (stops at a, which is kept)
        todo = todo[~kept(todo, b[todo] - 1)]
        b[todo] -= 1
        todo = todo[a[todo] < b[todo]]
    return a, b


def intersect(reference: np.ndarray, intervals: np.ndarray, epsilon: float = EPSILON) -> Intersections:
    """All SDK overlaps of ``intervals`` (``[n,2]``, sorted by start) with ``reference`` (``[m,2]``).

    Skipped (zero-length) reference rows get no overlaps. Cost: ``O((m + n) log n + overlaps)`` plus
    rows nested inside an earlier long row, which are scanned and rejected.
    """
    reference = np.asarray(reference, dtype=np.float64)
    intervals = np.asarray(intervals, dtype=np.float64)
    m, n = len(reference), len(intervals)
    empty = Intersections(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2)))
    if m == 0 or n == 0:
        return empty
    r0, r1 = reference[:, 0], reference[:, 1]
    s0, s1 = intervals[:, 0], intervals[:, 1]
    lo, hi = _candidate_rows(reference, intervals, np.fmax.accumulate(s1), epsilon)
    counts = np.where(live_reference(reference, epsilon), np.maximum(hi - lo, 0), 0)
    total = int(counts.sum())
    if total == 0:
        return empty
    ref_index = np.repeat(np.arange(m, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    row_index = np.arange(total, dtype=np.int64) - np.repeat(starts - lo, counts)
    rs0, rs1 = r0[ref_index], r1[ref_index]
    cs0, cs1 = s0[row_index], s1[row_index]
    overlap = ((rs1 - cs0) > -epsilon) & ((cs1 - rs0) > -epsilon)
    clipped = np.stack([np.maximum(cs0, rs0), np.minimum(cs1, rs1)], axis=1)
    keep = overlap & (np.abs(clipped[:, 0] - clipped[:, 1]) > epsilon)
    return Intersections(ref_index[keep], row_index[keep], clipped[keep])


def group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Start positions of runs of equal values in a sorted integer array."""
    if sorted_keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))


def _float_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype the SDK's ``numpy.average`` returns for features of ``dtype`` (ints average in float64)."""
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def segment_sums(features: np.ndarray, rows: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Per group ``g``, the sum of ``features[rows[indptr[g]:indptr[g + 1]]]`` over axis 0.

    Computed as one sparse product ``S @ features`` with ``S`` a 0/1 CSR matrix (row ``g`` has ones at
    the group's rows): scipy's kernel adds the selected rows one after another, in order, in the
    features' dtype, which is exactly how ``numpy.sum(x, axis=0)`` (hence the SDK's ``numpy.average``)
    accumulates, so means come out bit-identical to the SDK's. It reads each feature row once, with no
    gather copy and no per-row dispatch (``ufunc.reduceat`` over axis 0 is ~10x slower), and NaN/inf
    propagate as in a plain sum (``1 * x`` is exact).
    """
    from scipy.sparse import csr_matrix  # a dependency of scikit-learn; imported late (import cost)

    groups = len(indptr) - 1
    dtype = _float_dtype(features.dtype)
    flat = np.ascontiguousarray(features.reshape(len(features), -1), dtype=dtype)
    if groups == 0 or flat.shape[1] == 0:
        return np.zeros((groups,) + features.shape[1:], dtype=dtype)
    index_dtype = np.int32 if max(len(flat), len(rows)) < 2**31 else np.int64
    selector = csr_matrix(
        (np.ones(len(rows), dtype=dtype), rows.astype(index_dtype, copy=False), indptr.astype(index_dtype, copy=False)),
        shape=(groups, len(flat)),
    )
    return np.asarray(selector @ flat, dtype=dtype).reshape((groups,) + features.shape[1:])


def _reduce_groups(features, rows, indptr, collapse: str) -> np.ndarray:
    """``collapse`` ("mean", "sum", "max", "min") of each group of rows ``rows[indptr[g]:indptr[g+1]]``
    (``rows`` None: the groups split ``features`` itself)."""
    if collapse in ("mean", "sum"):
        if rows is None:
            rows = np.arange(len(features), dtype=np.int64)
        sums = segment_sums(features, rows, indptr)
        if collapse == "sum":
            return sums
        counts = np.diff(indptr).astype(sums.dtype).reshape((-1,) + (1,) * (features.ndim - 1))
        return np.true_divide(sums, counts, out=sums)  # in the features' float dtype, as numpy.mean
    gathered = features if rows is None else features[rows]
    reduced = REDUCERS[collapse].reduceat(gathered, indptr[:-1], axis=0)
    return reduced.astype(_float_dtype(features.dtype), copy=False)


def _hull(intervals: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``[min, max]`` over both bounds of each group of (clipped) intervals: the collapsed interval."""
    lows = np.minimum.reduceat(np.minimum(intervals[:, 0], intervals[:, 1]), starts)
    highs = np.maximum.reduceat(np.maximum(intervals[:, 0], intervals[:, 1]), starts)
    return np.stack([lows, highs], axis=1)


def _one_row(value, ndim: int) -> np.ndarray:
    """A collapse function's result as one row: ``[D]`` as is, ``[1, D]`` (SDK style) unwrapped."""
    row = np.asarray(value)
    if row.ndim == ndim and row.shape[0] == 1:
        row = row[0]
    return row


def collapse_groups(
    intervals: np.ndarray, features: np.ndarray, starts: np.ndarray, collapse: Collapse,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Collapse each group of rows (groups begin at ``starts``) to one row, as the SDK's ``__collapse``.

    Interval: ``[min, max]`` over both bounds of the group's rows. Features: ``"mean"`` (the SDK
    examples' ``numpy.average(features, axis=0)``, bit for bit) and ``"sum"`` via :func:`segment_sums`;
    ``"max"``, ``"min"`` via ``ufunc.reduceat``; or any callable reducing a ``[k, ...]`` array over
    axis 0 (applied per group: the general, slower path). With ``rows``, group ``g``'s features are
    ``features[rows[...]]`` (read in place, never gathered for mean/sum).
    """
    if len(starts) == 0:
        return np.zeros((0, 2)), np.zeros((0,) + features.shape[1:], dtype=features.dtype)
    if not callable(collapse) and collapse not in REDUCERS:
        raise MmerError(f"collapse {collapse!r}: unknown, expected one of {sorted(REDUCERS)} or a function")
    new_intervals = _hull(intervals, starts)
    count = len(rows) if rows is not None else len(features)
    indptr = np.append(starts, count).astype(np.int64)
    if callable(collapse):
        if rows is not None:
            features = features[rows]
        out = [_one_row(collapse(features[a:b]), features.ndim) for a, b in zip(indptr[:-1], indptr[1:])]
        return new_intervals, np.stack(out)
    return new_intervals, _reduce_groups(features, rows, indptr, collapse)


# ----------------------------------------------------------------------------------------------
# One video
# ----------------------------------------------------------------------------------------------


@dataclass
class Entries:
    """The entries of one sequence for one video, stored flat (ragged by ``offsets``).

    Entry ``e`` is named ``keys[e]`` and owns rows ``offsets[e]:offsets[e+1]`` of ``intervals`` and
    ``features``. The order of entries is the SDK's dict order (it decides ties when re-sorting).
    """

    keys: list[str]
    offsets: np.ndarray
    intervals: np.ndarray
    features: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def from_items(cls, items: Sequence[tuple[str, np.ndarray, np.ndarray]], trailing=(0,), dtype=np.float32):
        """Build from ``(key, intervals, features)`` triples (concatenated in the given order)."""
        if not items:
            return cls.empty(trailing, dtype)
        if len(items) == 1:  # the common case (one entry per video): no copy
            key, intervals, features = items[0]
            return cls([key], np.array([0, len(intervals)], np.int64),
                       np.asarray(intervals, dtype=np.float64), np.asarray(features))
        lengths = [len(iv) for _, iv, _ in items]
        return cls(
            keys=[k for k, _, _ in items],
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            intervals=np.concatenate([np.asarray(iv, dtype=np.float64) for _, iv, _ in items]),
            features=np.concatenate([f for _, _, f in items]),
        )

    @classmethod
    def empty(cls, trailing=(0,), dtype=np.float32) -> "Entries":
        return cls([], np.zeros(1, np.int64), np.zeros((0, 2)), np.zeros((0,) + tuple(trailing), dtype=dtype))

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        e = self.keys.index(key)
        a, b = self.offsets[e], self.offsets[e + 1]
        return self.intervals[a:b], self.features[a:b]

    def items(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        for e, key in enumerate(self.keys):
            a, b = self.offsets[e], self.offsets[e + 1]
            yield key, self.intervals[a:b], self.features[a:b]

    def take(self, entry_index: np.ndarray) -> "Entries":
        """The entries at ``entry_index`` (in that order), rows gathered without a Python loop."""
        entry_index = np.asarray(entry_index, dtype=np.int64)
        lengths = self.lengths()[entry_index]
        rows = ragged_rows(self.offsets[entry_index], lengths)
        return Entries(
            keys=[self.keys[e] for e in entry_index],
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            intervals=self.intervals[rows],
            features=self.features[rows],
        )


def ragged_rows(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for each pair, vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    firsts = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(starts - firsts, lengths)


def concat_entries(parts: Sequence[Entries]) -> Entries:
    parts = [p for p in parts if len(p)]
    if not parts:
        return Entries.empty()
    if len(parts) == 1:
        return parts[0]
    shifts = np.cumsum([0] + [len(p.intervals) for p in parts[:-1]])
    return Entries(
        keys=[k for p in parts for k in p.keys],
        offsets=np.concatenate([[0]] + [p.offsets[1:] + s for p, s in zip(parts, shifts)]).astype(np.int64),
        intervals=np.concatenate([p.intervals for p in parts]),
        features=np.concatenate([p.features for p in parts]),
    )


def align_group(
    reference: Entries,
    others: Mapping[str, Entries],
    collapse: Collapse = None,
    epsilon: float = EPSILON,
) -> tuple[Entries, dict[str, Entries]]:
    """Align one video: ``others`` (each the video's entries of one sequence) to ``reference``.

    Returns the reference's new entries and each other sequence's new entries, named
    ``'<reference key>[i]'`` for row ``i`` of that reference entry, exactly as the SDK's ``align``.
    """
    ref_rows = len(reference.intervals)
    entry_of_row = np.repeat(np.arange(len(reference), dtype=np.int64), reference.lengths())
    local_row = np.arange(ref_rows, dtype=np.int64) - reference.offsets[entry_of_row]
    names = [f"{reference.keys[e]}[{i}]" for e, i in zip(entry_of_row.tolist(), local_row.tolist())]

    live = np.flatnonzero(live_reference(reference.intervals, epsilon))
    ref_out = _entries_from_rows(
        [names[i] for i in live], reference.intervals[live], reference.features[live], collapse
    )
    aligned = {}
    for name, entries in others.items():
        intervals, features = sort_by_start(entries.intervals, entries.features)
        ranges = None if collapse is None or callable(collapse) else kept_ranges(reference.intervals, intervals, epsilon)
        if ranges is not None:  # frames under words: collapse contiguous row ranges, no overlap arrays
            keys, new_intervals, new_features = _collapse_kept_ranges(
                reference.intervals, intervals, features, ranges, collapse, names)
            aligned[name] = Entries(keys, np.arange(len(keys) + 1, dtype=np.int64), new_intervals, new_features)
            continue
        hits = intersect(reference.intervals, intervals, epsilon)
        starts = group_starts(hits.ref_index)
        present = hits.ref_index[starts]
        keys = [names[i] for i in present.tolist()]
        if collapse is None:
            offsets = np.append(starts, len(hits.ref_index)).astype(np.int64)
            aligned[name] = Entries(keys, offsets, hits.intervals, features[hits.row_index])
        else:
            new_intervals, new_features = collapse_groups(hits.intervals, features, starts, collapse,
                                                          rows=hits.row_index)
            aligned[name] = Entries(keys, np.arange(len(keys) + 1, dtype=np.int64), new_intervals, new_features)
    return ref_out, aligned


def _collapse_kept_ranges(reference, intervals, features, ranges, collapse: str, names: list[str]):
    """Collapse rows ``[a, b)`` per reference row (from :func:`kept_ranges`) to one row each."""
    a, b = ranges
    present = np.flatnonzero(a < b)
    a, b = a[present], b[present]
    hull = np.stack([np.maximum(intervals[a, 0], reference[present, 0]),
                     np.minimum(intervals[b - 1, 1], reference[present, 1])], axis=1)
    counts = b - a
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rows = ragged_rows(a, counts)
    keys = [names[i] for i in present.tolist()]
    return keys, hull, _reduce_groups(features, rows, indptr, collapse)


def _entries_from_rows(keys, intervals, features, collapse: Collapse) -> Entries:
    """One entry per reference row (its own interval and features; a collapse of one row)."""
    if callable(collapse) and len(keys):
        _, features = collapse_groups(intervals, features, np.arange(len(keys)), collapse)
    return Entries(list(keys), np.arange(len(keys) + 1, dtype=np.int64), intervals, features)


def impute(reference: Entries, other: Entries, trailing: tuple[int, ...]) -> tuple[Entries, int]:
    """The SDK's ``impute``: reference entries missing in ``other`` are appended as zeros over the
    reference's intervals. Returns the new entries and how many were filled."""
    have = set(other.keys)
    missing = np.array([e for e, k in enumerate(reference.keys) if k not in have], dtype=np.int64)
    if missing.size == 0:
        return other, 0
    filler = reference.take(missing)
    dtype = other.features.dtype if len(other) else np.float32
    filler.features = np.zeros((len(filler.intervals),) + tuple(trailing), dtype=dtype)
    return concat_entries([other, filler]), int(missing.size)


def hard_unify(video: Mapping[str, Entries]) -> tuple[dict[str, Entries], dict[str, list[str]]]:
    """The SDK's ``hard_unify`` for one video: keep only keys present in every sequence.

    Returns the kept entries (all in the first sequence's key order) and the dropped keys grouped by
    reason (``"no <sequence>[, <sequence>] data"``, naming the sequences that lacked the key).
    """
    names = list(video)
    first_keys = video[names[0]].keys
    if all(video[name].keys == first_keys for name in names[1:]):  # the usual case after impute
        return dict(video), {}
    key_sets = {name: set(video[name].keys) for name in names}
    common = set.intersection(*key_sets.values())
    reasons: dict[str, list[str]] = {}
    for key in sorted(set.union(*key_sets.values()) - common):
        reason = "no " + ", ".join(sorted(n for n in names if key not in key_sets[n])) + " data"
        reasons.setdefault(reason, []).append(key)
    order = [k for k in video[names[0]].keys if k in common]
    kept = {}
    for name in names:
        position = {k: e for e, k in enumerate(video[name].keys)}
        kept[name] = video[name].take(np.array([position[k] for k in order], dtype=np.int64))
    return kept, reasons


# ----------------------------------------------------------------------------------------------
# Streaming over a dataset
# ----------------------------------------------------------------------------------------------


class Source(Protocol):
    """What the driver reads: :class:`mmer_tf.formats.csd.CsdReader` or :class:`MemorySource`."""

    name: str

    def video_ids(self) -> list[str]: ...

    def read(self, video_id: str) -> tuple[np.ndarray, np.ndarray]: ...


class MemorySource:
    """An in-memory sequence in the SDK's dict layout ``{key: {"intervals", "features"}}``."""

    def __init__(self, name: str, data: Mapping[str, Mapping[str, np.ndarray]]):
        self.name = name
        self.data = data
        self.path = f"<memory:{name}>"

    def video_ids(self) -> list[str]:
        return list(self.data)

    def read(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        entry = self.data[video_id]
        features = np.asarray(entry["features"])
        if features.ndim < 2:
            features = features.reshape(len(features), -1)
        return np.asarray(entry["intervals"], dtype=np.float64).reshape(-1, 2), features


@dataclass(frozen=True)
class Stage:
    """One SDK ``align`` call: the reference sequence, an optional collapse, and whether to follow it
    with the SDK's ``impute(reference)``. A stage's reference that is not yet aligned (e.g. the labels)
    joins the dataset at that stage, as ``add_computational_sequences`` before ``align`` does."""

    reference: str
    collapse: Collapse = None
    impute: bool = False


EXAMPLES = 3  # ids kept per drop reason, so a user can look one up


@dataclass
class AlignReport:
    """Counts a user wants to see after an alignment (printed by the CLI, returned by adapters).

    Every drop and every clean-up has a reason, a count and its first few ids: data never disappears
    without a line saying how much, why, and where to look.
    """

    videos_in: int = 0
    videos_out: int = 0
    entries_out: int = 0
    dropped_videos: Counter = field(default_factory=Counter)  # reason -> videos
    dropped_entries: Counter = field(default_factory=Counter)  # reason -> entries
    dropped_rows: Counter = field(default_factory=Counter)  # reason -> input rows removed
    cleaned: Counter = field(default_factory=Counter)  # "<unit> (<reason>)" -> things kept but flagged/cleaned
    skipped_zero_length: Counter = field(default_factory=Counter)  # stage reference -> intervals
    imputed: Counter = field(default_factory=Counter)  # sequence -> entries filled with zeros
    dropped_video_ids: dict = field(default_factory=dict)  # video -> reason
    examples: dict = field(default_factory=dict)  # "<unit> <reason>" -> first ids

    def note(self, kind: str, reason: str, ids, count: int | None = None) -> None:
        """Count ``count`` (default ``len(ids)``) under ``reason`` of ``kind`` (videos, segments, rows,
        cleaned) and keep the first few ``ids`` as examples."""
        ids = list(ids)
        counter = {"videos": self.dropped_videos, "segments": self.dropped_entries,
                   "rows": self.dropped_rows, "cleaned": self.cleaned}[kind]
        counter[reason] += len(ids) if count is None else count
        examples = self.examples.setdefault(f"{kind} {reason}", [])
        for item in ids:
            if len(examples) >= EXAMPLES:
                break
            if item not in examples:
                examples.append(item)

    def as_dict(self) -> dict:
        dropped, dropped_examples = {}, {}
        for unit, counter in (("videos", self.dropped_videos), ("segments", self.dropped_entries),
                              ("rows", self.dropped_rows)):
            for reason, count in counter.items():
                dropped[f"{unit} ({reason})"] = int(count)
                dropped_examples[f"{unit} ({reason})"] = list(self.examples.get(f"{unit} {reason}", []))
        return {
            "videos_in": self.videos_in,
            "videos": self.videos_out,
            "segments": self.entries_out,
            "dropped_videos": dict(self.dropped_videos),
            "dropped_segments": dict(self.dropped_entries),
            "dropped": dropped,
            "dropped_examples": dropped_examples,
            "cleaned": {reason: int(count) for reason, count in self.cleaned.items()},
            "cleaned_examples": {reason: list(self.examples.get(f"cleaned {reason}", [])) for reason in self.cleaned},
            "zero_length_reference_intervals": dict(self.skipped_zero_length),
            "imputed": dict(self.imputed),
        }

    def lines(self) -> list[str]:
        out = [f"videos: {self.videos_out} aligned of {self.videos_in}", f"segments: {self.entries_out}"]
        return out + format_drop_summary(self.as_dict())


def format_drop_summary(summary: Mapping) -> list[str]:
    """The lines that tell a user what a load or an alignment dropped, cleaned or filled in.

    ``summary`` is a load summary (see ``docs/ARCHITECTURE.md``): ``dropped`` / ``dropped_examples``
    (reason -> count / first ids), ``cleaned`` / ``cleaned_examples``, ``imputed`` (sequence -> count),
    ``zero_length_reference_intervals``. The align CLI prints these lines and ``main.py`` logs the same
    ones, so both say the same thing about the same data. Missing keys are simply absent lines.
    """
    lines = []
    for key, verb in (("dropped", "dropped"), ("cleaned", "cleaned")):
        examples = summary.get(f"{key}_examples") or {}
        for reason, count in sorted((summary.get(key) or {}).items()):
            if not count:
                continue
            ids = examples.get(reason) or []
            tail = f", e.g. {', '.join(map(str, ids))}" if ids else ""
            lines.append(f"{verb} {count} {reason}{tail}")
    for ref, count in sorted((summary.get("zero_length_reference_intervals") or {}).items()):
        if count:
            lines.append(f"skipped {count} zero-length {ref} intervals (the SDK skips them too)")
    for name, count in sorted((summary.get("imputed") or {}).items()):
        if count:
            lines.append(f"imputed with zeros ({name}): {count}")
    return lines


class _Index:
    """Key names of one source grouped by stripped video id (names only, no data).

    Reading a video also screens its rows: a NaN or reversed interval (end before start) is a broken
    row. In a reference sequence it is skipped like a zero-length one (its index, hence every other
    key, is kept); elsewhere it is removed. Both are counted, with the keys, in the report.
    """

    def __init__(self, source: Source, report: AlignReport, is_reference: bool):
        self.source = source
        self.report = report
        self.is_reference = is_reference
        self.masked = 0  # reference rows of the last video read that were screened out
        try:
            keys = source.video_ids()
        except (OSError, KeyError) as exc:
            raise MmerError(f"{getattr(source, 'path', source.name)}: cannot list videos ({exc})") from None
        self.groups: dict[str, list[str]] = {}
        for key in keys:
            self.groups.setdefault(stripped_id(key), []).append(key)
        self.by_lower: dict[str, str] = {video.lower(): video for video in self.groups}
        self.trailing: tuple[int, ...] | None = None

    def read_video(self, video: str) -> Entries:
        items = []
        self.masked = 0
        name = self.source.name
        for key in self.groups.get(video, []):
            intervals, features = self.source.read(key)
            if self.trailing is None:
                self.trailing = tuple(features.shape[1:])
            elif tuple(features.shape[1:]) != self.trailing:
                raise MmerError(
                    f"{getattr(self.source, 'path', name)}: sequence '{name}', "
                    f"video '{key}' has feature dims {tuple(features.shape[1:])}, other videos have {self.trailing}"
                )
            intervals, features = self._screen(key, intervals, features)
            items.append((key, intervals, features))
        return Entries.from_items(items, self.trailing or (0,))

    def _screen(self, key, intervals, features):
        name = self.source.name
        if (features.size and np.issubdtype(features.dtype, np.floating) and np.isnan(features.flat[0])
                and np.isnan(features).all()):  # the first value decides almost every time
            self.report.note("cleaned", f"videos (all-NaN {name} features, kept as NaN; training reads 0)", [key])
        if not len(intervals):
            return intervals, features
        nan = np.isnan(intervals).any(axis=1)
        backwards = ~nan & ((intervals[:, 0] - intervals[:, 1]) >= EPSILON)
        bad = nan | backwards
        if not bad.any():
            return intervals, features
        action = "skipped, index kept" if self.is_reference else "removed"
        for mask, what in ((nan, "NaN interval"), (backwards, "reversed interval, end before start")):
            if mask.any():
                self.report.note("rows", f"{what} in {name}, {action}", [key], count=int(mask.sum()))
        if self.is_reference:
            intervals = intervals.copy()
            intervals[bad] = 0.0  # zero length: skipped by the alignment, numbering unchanged
            self.masked += int(bad.sum())
            return intervals, features
        return intervals[~bad], features[~bad]


def _collapsed_trailing(trailing: tuple[int, ...], collapse: Collapse) -> tuple[int, ...]:
    if not callable(collapse):
        return trailing
    probe = np.zeros((1,) + trailing, dtype=np.float32)
    _, out = collapse_groups(np.zeros((1, 2)), probe, np.zeros(1, np.int64), collapse)
    return tuple(out.shape[1:])


def align_stream(
    sources: Mapping[str, Source],
    stages: Sequence[Stage],
    *,
    hard_unify_at_end: bool = True,
    epsilon: float = EPSILON,
    report: AlignReport | None = None,
    progress: bool = False,
) -> Iterator[tuple[str, dict[str, Entries]]]:
    """Run the SDK recipe ``align(s0) [impute] ; align(s1) [impute] ; ... ; hard_unify()`` one video
    at a time, yielding ``(video id, {sequence: Entries})`` per surviving video.

    ``sources`` maps sequence names to lazily read sources. Every source that is not the reference of a
    later stage takes part from the first stage. Only one video of all sequences is held in memory.
    Videos are taken in the first stage reference's key order; a video missing from any source, or
    left with no entries in a sequence before a later stage, is dropped (the SDK's ``unify``).
    """
    if not stages:
        raise MmerError("alignment: no reference sequence given")
    for stage in stages:
        if stage.reference not in sources:
            raise MmerError(
                f"reference '{stage.reference}': unknown sequence name (have {sorted(sources)})"
            )
        if stage.collapse is not None and not callable(stage.collapse) and stage.collapse not in REDUCERS:
            raise MmerError(f"collapse {stage.collapse!r}: unknown, expected one of {sorted(REDUCERS)} or none")
    report = report if report is not None else AlignReport()
    joins = {name: 0 for name in sources}
    for s, stage in enumerate(stages):
        if s > 0 and stage.reference not in [st.reference for st in stages[:s]]:
            joins[stage.reference] = s
    references = {stage.reference for stage in stages}
    indexes = {name: _Index(source, report, name in references) for name, source in sources.items()}
    first = indexes[stages[0].reference]
    videos = list(first.groups)
    report.videos_in = len(videos)
    all_ids = set()
    for index in indexes.values():
        all_ids |= set(index.groups)
    for video in sorted(all_ids - set(videos)):
        if video.lower() in first.by_lower:
            continue  # counted once, as a case mismatch, when the reference's video is aligned
        _drop(report, video, f"not in {stages[0].reference}")

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(videos), unit=" videos", desc="aligning", leave=False)
    try:
        for video in videos:
            result = _align_video(video, indexes, stages, joins, hard_unify_at_end, epsilon, report)
            if bar is not None:
                bar.update(1)
            if result is not None:
                yield video, result
    finally:
        if bar is not None:
            bar.close()


def _drop(report: AlignReport, video: str, reason: str) -> None:
    report.note("videos", reason, [video])
    report.dropped_video_ids[video] = reason


def _align_video(video, indexes, stages, joins, hard_unify_at_end, epsilon, report):
    absent = [name for name, index in indexes.items() if video not in index.groups]
    if absent:
        cased = {name: indexes[name].by_lower.get(video.lower()) for name in absent}
        cased = {name: other for name, other in cased.items() if other is not None}
        if cased:
            name, other = sorted(cased.items())[0]
            reason = "id differs only in case in " + ", ".join(sorted(cased))
            report.note("videos", reason, [f"{video} vs {other} ({name})"])
            report.dropped_video_ids[video] = reason
        else:
            _drop(report, video, "missing in " + ", ".join(sorted(absent)))
        return None
    state = {name: indexes[name].read_video(video) for name, at in joins.items() if at == 0}
    trailing = {name: indexes[name].trailing or (0,) for name in indexes}
    for s, stage in enumerate(stages):
        for name, at in joins.items():
            if at == s and s > 0:
                state[name] = indexes[name].read_video(video)
        empty = [name for name, entries in state.items() if len(entries) == 0]
        if empty:
            _drop(report, video, "no aligned data in " + ", ".join(sorted(empty)))
            return None
        reference = state[stage.reference]
        others = {name: entries for name, entries in state.items() if name != stage.reference}
        skipped = int((~live_reference(reference.intervals, epsilon)).sum())
        if s == 0 or joins[stage.reference] == s:  # read from its file at this stage: screened rows
            skipped -= indexes[stage.reference].masked
        if skipped:
            report.skipped_zero_length[stage.reference] += skipped
        ref_out, aligned = align_group(reference, others, stage.collapse, epsilon)
        state = {stage.reference: ref_out, **aligned}
        for name in state:
            trailing[name] = _collapsed_trailing(trailing[name], stage.collapse)
        if stage.impute:
            for name in others:
                state[name], filled = impute(ref_out, state[name], trailing[name])
                if filled:
                    report.imputed[name] += filled
        state = {name: state[name] for name in indexes if name in state}
    if hard_unify_at_end:
        state, reasons = hard_unify(state)
        for reason, keys in reasons.items():
            report.note("segments", reason, sorted(keys), count=len(keys))
    count = len(next(iter(state.values())))
    if count == 0:
        _drop(report, video, "no segment with every modality")
        return None
    report.videos_out += 1
    report.entries_out += count
    return state
