"""Alignment: hand-computed golden cases per SDK rule, a brute-force oracle, and SDK equivalence."""

from __future__ import annotations

import numpy as np
import pytest

from mmer_tf.data.align import (
    EPSILON,
    AlignReport,
    Entries,
    MemorySource,
    Stage,
    align_group,
    align_stream,
    collapse_groups,
    format_drop_summary,
    intersect,
    kept_ranges,
    segment_sums,
)
from mmer_tf.formats.csd import CsdReader, write_csd
from mmer_tf.errors import MmerError
from sdk_support import (defective_dataset, load_mmdatasdk, quiet, sdk_contents, sdk_dataset,
                         sdk_words_then_labels)

MMDATASDK, SDK_MISSING = load_mmdatasdk()
needs_sdk = pytest.mark.skipif(MMDATASDK is None, reason=str(SDK_MISSING))


def one(key, intervals, features=None):
    intervals = np.asarray(intervals, dtype=np.float64)
    if features is None:
        features = np.arange(len(intervals), dtype=np.float32)[:, None]
    return Entries.from_items([(key, intervals, np.asarray(features, dtype=np.float32))])


def as_dict(entries: Entries) -> dict:
    return {k: (iv.tolist(), f.tolist()) for k, iv, f in entries.items()}


# ------------------------------------------------------------------------------------------------
# Golden cases, one per rule
# ------------------------------------------------------------------------------------------------


def test_epsilon_overlap_and_zero_length_pieces():
    hits = intersect(np.array([[0.0, 1.0]]), np.array([
        [-1.0, 0.000005],  # ends 5e-6 after the start: overlaps, but the clipped piece is < eps: dropped
        [-1.0, 0.00002],   # clipped [0, 2e-5]: kept
        [0.999, 2.0],      # clipped [0.999, 1]: kept
        [1.000005, 2.0],   # starts 5e-6 after the end: overlaps within eps, clipped length < eps: dropped
        [1.00002, 2.0],    # starts after end + eps: no overlap
    ]))
    assert hits.row_index.tolist() == [1, 2]
    np.testing.assert_allclose(hits.intervals, [[0.0, 0.00002], [0.999, 1.0]])


def test_clipping_to_the_reference_interval():
    hits = intersect(np.array([[1.0, 2.0]]), np.array([[0.5, 1.5], [1.5, 2.5], [0.0, 3.0]]))
    # rows are taken in start order (the caller sorts); [0, 3] covers the whole reference
    assert hits.row_index.tolist() == [0, 1, 2]
    np.testing.assert_allclose(hits.intervals, [[1.0, 1.5], [1.5, 2.0], [1.0, 2.0]])


def test_zero_length_reference_intervals_are_skipped_but_keep_their_index():
    ref = one("v", [[0.0, 1.0], [1.0, 1.0], [1.0, 2.0], [2.0, 2.000001]])
    other = one("v", [[0.0, 2.5]], [[7.0]])
    ref_out, out = align_group(ref, {"a": other})
    assert ref_out.keys == ["v[0]", "v[2]"]
    assert as_dict(out["a"]) == {"v[0]": ([[0.0, 1.0]], [[7.0]]), "v[2]": ([[1.0, 2.0]], [[7.0]])}


def test_mean_collapse_interval_is_min_max_of_clipped_pieces():
    ref = one("v", [[1.0, 2.0]], [[0.0]])
    other = one("v", [[0.5, 1.2], [1.2, 1.7], [1.9, 2.6]], [[1.0, 10.0], [2.0, 20.0], [6.0, 60.0]])
    _, out = align_group(ref, {"a": other}, collapse="mean")
    assert as_dict(out["a"]) == {"v[0]": ([[1.0, 2.0]], [[3.0, 30.0]])}
    _, out = align_group(ref, {"a": one("v", [[1.2, 1.5], [1.6, 1.7]], [[1.0], [3.0]])}, collapse="mean")
    assert as_dict(out["a"]) == {"v[0]": ([[1.2, 1.7]], [[2.0]])}


def test_collapse_with_a_user_function_over_axis_0():
    intervals = np.array([[0.0, 1.0], [1.0, 2.0], [5.0, 6.0]])
    features = np.array([[1.0, -1.0], [3.0, 4.0], [2.0, 2.0]], dtype=np.float32)
    starts = np.array([0, 2])
    _, by_name = collapse_groups(intervals, features, starts, "max")
    _, by_fn = collapse_groups(intervals, features, starts, lambda x: np.max(x, axis=0))
    _, sdk_style = collapse_groups(intervals, features, starts, lambda x: np.median(x, axis=0)[None, :])
    assert by_name.tolist() == by_fn.tolist() == [[3.0, 4.0], [2.0, 2.0]]
    assert sdk_style.tolist() == [[2.0, 1.5], [2.0, 2.0]]
    with pytest.raises(MmerError, match="collapse 'median'"):
        collapse_groups(intervals, features, starts, "median")


def test_missing_modality_gets_no_entry_and_nan_inf_propagate_through_the_mean():
    ref = one("v", [[0.0, 1.0], [1.0, 2.0], [5.0, 6.0]])
    other = one("v", [[0.0, 0.5], [0.5, 1.0], [1.0, 2.0]], [[np.nan], [1.0], [-np.inf]])
    _, out = align_group(ref, {"a": other}, collapse="mean")
    assert out["a"].keys == ["v[0]", "v[1]"]  # nothing overlaps [5, 6]
    assert np.isnan(out["a"].features[0, 0]) and out["a"].features[1, 0] == -np.inf


def test_other_entries_are_grouped_by_stripped_id_and_sorted_by_start():
    words = MemorySource("words", {"v": {"intervals": [[0.0, 1.0], [1.0, 2.0]], "features": [[0.0], [0.0]]}})
    frames = MemorySource("frames", {
        "v[1]": {"intervals": [[1.2, 1.8]], "features": [[2.0]]},
        "v[0]": {"intervals": [[0.1, 0.9], [0.95, 1.1]], "features": [[1.0], [5.0]]},
        "w[0]": {"intervals": [[0.0, 9.0]], "features": [[9.0]]},
    })
    report = AlignReport()
    out = dict(align_stream({"words": words, "frames": frames}, [Stage("words")], report=report,
                            hard_unify_at_end=False))
    assert list(out) == ["v"]
    assert as_dict(out["v"]["frames"]) == {
        "v[0]": ([[0.1, 0.9], [0.95, 1.0]], [[1.0], [5.0]]),
        "v[1]": ([[1.0, 1.1], [1.2, 1.8]], [[5.0], [2.0]]),
    }
    assert report.dropped_video_ids == {"w": "not in words"}


def test_unify_drops_videos_missing_in_any_sequence_with_counts():
    sources = {
        "words": MemorySource("words", {v: {"intervals": [[0.0, 1.0]], "features": [[1.0]]} for v in "abc"}),
        "audio": MemorySource("audio", {v: {"intervals": [[0.0, 1.0]], "features": [[2.0]]} for v in "ab"}),
        "video": MemorySource("video", {v: {"intervals": [[0.0, 1.0]], "features": [[3.0]]} for v in "bc"}),
    }
    report = AlignReport()
    out = dict(align_stream(sources, [Stage("words", "mean")], report=report))
    assert list(out) == ["b"]
    assert report.dropped_video_ids == {"a": "missing in video", "c": "missing in audio"}
    assert report.as_dict()["videos"] == 1 and report.as_dict()["segments"] == 1


def test_impute_fills_missing_words_with_zeros_over_the_word_interval():
    sources = {
        "words": MemorySource("words", {"v": {"intervals": [[0.0, 1.0], [2.0, 3.0]], "features": [[1.0], [2.0]]}}),
        "audio": MemorySource("audio", {"v": {"intervals": [[0.0, 0.5]], "features": [[4.0, 5.0]]}}),
    }
    report = AlignReport()
    out = dict(align_stream(sources, [Stage("words", "mean", impute=True)], report=report))
    assert as_dict(out["v"]["audio"]) == {"v[0]": ([[0.0, 0.5]], [[4.0, 5.0]]), "v[1]": ([[2.0, 3.0]], [[0.0, 0.0]])}
    assert report.imputed == {"audio": 1}
    out = dict(align_stream(sources, [Stage("words", "mean")], report=AlignReport()))
    assert out["v"]["audio"].keys == ["v[0]"] and out["v"]["words"].keys == ["v[0]"]  # hard unify


def test_two_stage_words_then_labels():
    sources = {
        "words": MemorySource("words", {"v": {"intervals": [[0.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]],
                                              "features": [[1.0], [2.0], [9.0], [3.0]]}}),
        "audio": MemorySource("audio", {"v": {"intervals": [[0.0, 1.5], [1.5, 3.0]], "features": [[10.0], [20.0]]}}),
        "labels": MemorySource("labels", {"v": {"intervals": [[0.0, 1.5], [1.5, 3.0], [4.0, 5.0]],
                                                "features": [[0.5], [0.7], [0.9]]}}),
    }
    report = AlignReport()
    out = dict(align_stream(sources, [Stage("words", "mean", impute=True), Stage("labels")], report=report))["v"]
    # words v[0]=[0,1] v[1]=[1,2] v[3]=[2,3] (v[2] is zero-length); audio means per word: 10, mean(10, 20), 20
    assert as_dict(out["words"]) == {
        "v[0]": ([[0.0, 1.0], [1.0, 1.5]], [[1.0], [2.0]]),
        "v[1]": ([[1.5, 2.0], [2.0, 3.0]], [[2.0], [3.0]]),
    }
    assert as_dict(out["audio"]) == {
        "v[0]": ([[0.0, 1.0], [1.0, 1.5]], [[10.0], [15.0]]),
        "v[1]": ([[1.5, 2.0], [2.0, 3.0]], [[15.0], [20.0]]),
    }
    assert as_dict(out["labels"]) == {"v[0]": ([[0.0, 1.5]], [[0.5]]), "v[1]": ([[1.5, 3.0]], [[0.7]])}
    assert report.dropped_entries == {"no audio, words data": 1}  # sequence names sorted: same text everywhere
    assert report.skipped_zero_length == {"words": 1}


def test_broken_rows_case_mismatched_ids_and_all_nan_features_are_counted_with_examples():
    nan = float("nan")
    sources = {
        "words": MemorySource("words", {
            "Vid": {"intervals": [[0.0, 1.0], [2.0, 1.5], [nan, 3.0], [3.0, 4.0]], "features": [[1.0]] * 4},
            "ok": {"intervals": [[0.0, 1.0]], "features": [[1.0]]},
        }),
        "audio": MemorySource("audio", {
            "vid": {"intervals": [[0.0, 1.0]], "features": [[1.0]]},  # 'Vid' in words: only the case differs
            "Vid": {"intervals": [[0.0, 1.0], [3.5, 3.2], [nan, nan], [3.0, 4.0]],
                    "features": [[2.0], [50.0], [60.0], [4.0]]},
            "ok": {"intervals": [[0.0, 1.0]], "features": [[nan]]},  # an all-NaN modality
        }),
    }
    report = AlignReport()
    out = dict(align_stream(sources, [Stage("words", "mean", impute=True)], report=report))
    # reversed / NaN reference rows are skipped with their index kept; broken audio rows never enter a mean
    assert out["Vid"]["words"].keys == ["Vid[0]", "Vid[3]"]
    assert as_dict(out["Vid"]["audio"]) == {"Vid[0]": ([[0.0, 1.0]], [[2.0]]), "Vid[3]": ([[3.0, 4.0]], [[4.0]])}
    summary = report.as_dict()
    assert summary["dropped"] == {
        "rows (NaN interval in words, skipped, index kept)": 1,
        "rows (reversed interval, end before start in words, skipped, index kept)": 1,
        "rows (NaN interval in audio, removed)": 1,
        "rows (reversed interval, end before start in audio, removed)": 1,
    }
    assert summary["dropped_examples"]["rows (NaN interval in audio, removed)"] == ["Vid"]
    assert summary["zero_length_reference_intervals"] == {}  # broken rows are not counted twice
    assert summary["cleaned"] == {"videos (all-NaN audio features, kept as NaN; training reads 0)": 1}
    assert summary["cleaned_examples"]["videos (all-NaN audio features, kept as NaN; training reads 0)"] == ["ok"]
    lines = format_drop_summary(summary)
    assert "dropped 1 rows (NaN interval in audio, removed), e.g. Vid" in lines
    assert "cleaned 1 videos (all-NaN audio features, kept as NaN; training reads 0), e.g. ok" in lines

    # a video whose id differs only in case is named as such, not as two unrelated missing videos
    words = MemorySource("words", {"AbC": {"intervals": [[0.0, 1.0]], "features": [[1.0]]},
                                   "x": {"intervals": [[0.0, 1.0]], "features": [[1.0]]}})
    audio = MemorySource("audio", {"abc": {"intervals": [[0.0, 1.0]], "features": [[1.0]]},
                                   "x": {"intervals": [[0.0, 1.0]], "features": [[1.0]]}})
    report = AlignReport()
    assert list(dict(align_stream({"words": words, "audio": audio}, [Stage("words")], report=report))) == ["x"]
    assert report.as_dict()["dropped"] == {"videos (id differs only in case in audio)": 1}
    assert format_drop_summary(report.as_dict()) == [
        "dropped 1 videos (id differs only in case in audio), e.g. AbC vs abc (audio)"]


def test_format_drop_summary_reads_any_adapter_summary():
    assert format_drop_summary({}) == []
    summary = {"segments": 3, "dropped": {"audio: too short": 2, "none": 0},
               "dropped_examples": {"audio: too short": ["a[0]", "b[1]"]}, "imputed": {"vision": 4}}
    assert format_drop_summary(summary) == ["dropped 2 audio: too short, e.g. a[0], b[1]",
                                            "imputed with zeros (vision): 4"]


def test_dims_differing_between_videos_and_unknown_reference_are_user_errors():
    sources = {
        "words": MemorySource("words", {v: {"intervals": [[0.0, 1.0]], "features": [[1.0]]} for v in "ab"}),
        "audio": MemorySource("audio", {"a": {"intervals": [[0.0, 1.0]], "features": [[1.0, 2.0]]},
                                        "b": {"intervals": [[0.0, 1.0]], "features": [[1.0, 2.0, 3.0]]}}),
    }
    with pytest.raises(MmerError, match=r"video 'b' has feature dims \(3,\), other videos have \(2,\)"):
        list(align_stream(sources, [Stage("words")]))
    with pytest.raises(MmerError, match="reference 'text': unknown sequence name"):
        list(align_stream(sources, [Stage("text")]))


# ------------------------------------------------------------------------------------------------
# Brute-force oracle: the SDK's per-interval rule written as a plain loop
# ------------------------------------------------------------------------------------------------


def brute_force(reference, intervals, eps=EPSILON):
    out = []
    for r, (r0, r1) in enumerate(reference):
        if abs(r0 - r1) < eps:
            continue
        for j, (s0, s1) in enumerate(intervals):
            if (r1 - s0) > -eps and (s1 - r0) > -eps:
                c0, c1 = max(s0, r0), min(s1, r1)
                if abs(c0 - c1) > eps:
                    out.append((r, j, c0, c1))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_intersect_matches_the_per_interval_rule_on_messy_intervals(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    starts = np.round(rng.uniform(0, 10, n), int(rng.integers(1, 4)))  # ties and touching bounds
    lengths = np.where(rng.random(n) < 0.15, 0.0, rng.exponential(0.5, n))
    lengths[rng.random(n) < 0.1] *= 20  # long rows that contain later ones
    intervals = np.stack([starts, starts + lengths], 1)
    intervals = intervals[np.argsort(intervals[:, 0], kind="stable")]
    m = int(rng.integers(1, 30))
    r0 = np.round(rng.uniform(-1, 11, m), 2)
    reference = np.stack([r0, r0 + np.where(rng.random(m) < 0.1, 0.0, rng.uniform(0, 2, m))], 1)
    reference[0] = [intervals[0, 1] - EPSILON / 2, intervals[0, 1] + 1]  # an eps-boundary case
    hits = intersect(reference, intervals)
    got = list(zip(hits.ref_index.tolist(), hits.row_index.tolist(), *hits.intervals.T.tolist()))
    assert got == brute_force(reference.tolist(), intervals.tolist())


@pytest.mark.parametrize("how", ["mean", "sum", "max", "min"])
def test_in_place_range_collapse_equals_gathered_collapse(how):
    rng = np.random.default_rng(5)
    frames = np.arange(200) / 100.0
    intervals = np.stack([frames, frames + 0.01], 1)
    features = rng.normal(size=(200, 3)).astype(np.float32)
    features[7] = np.nan
    reference = np.array([[0.5, 0.9], [0.0, 0.2], [1.7, 2.5], [0.895, 1.3], [1.0, 1.0]])  # unsorted, tail, shared frame
    hits = intersect(reference, intervals)
    starts = np.flatnonzero(np.r_[True, np.diff(hits.ref_index) != 0])
    got = collapse_groups(hits.intervals, features, starts, how, rows=hits.row_index)
    want = collapse_groups(hits.intervals, features[hits.row_index], starts, how)
    np.testing.assert_allclose(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, equal_nan=True)
    assert hits.row_index.max() == 199  # a group reached the last frame
    reduce = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min}[how]
    bounds = np.r_[starts, len(hits.row_index)]
    oracle = np.array([reduce(features[hits.row_index[a:b]], axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
    np.testing.assert_allclose(got[1], oracle, rtol=1e-5, equal_nan=True)


def frame_like(rng, n, rate, jitter):
    """Sorted, well-formed rows (starts and ends non-decreasing), with ties and touching bounds."""
    starts = np.round(np.sort(rng.uniform(0, n / rate, n)), int(rng.integers(2, 4))) if jitter else np.arange(n) / rate
    lengths = np.full(n, 1.0 / rate) if not jitter else np.round(rng.uniform(2 * EPSILON, 3.0 / rate, n), 5)
    ends = np.maximum.accumulate(starts + lengths)
    keep = ends - starts > EPSILON
    return np.stack([starts, ends], 1)[keep]


@pytest.mark.parametrize("seed", range(10))
def test_kept_ranges_fast_path_equals_the_general_intersect_and_collapse(seed):
    rng = np.random.default_rng(100 + seed)
    intervals = frame_like(rng, int(rng.integers(1, 300)), rate=float(rng.choice([30.0, 100.0])), jitter=seed % 2)
    span = intervals[-1, 1]
    m = int(rng.integers(1, 40))
    r0 = np.round(rng.uniform(-0.5, span + 0.5, m), int(rng.integers(1, 4)))
    reference = np.stack([r0, r0 + np.where(rng.random(m) < 0.1, 0.0, rng.uniform(EPSILON, 0.6, m))], 1)
    # eps-boundary pieces: a reference starting just before a row's end, one ending just after a start
    reference[0] = [intervals[0, 1] - EPSILON / 2, intervals[0, 1] + 0.3]
    reference[-1] = [max(0.0, intervals[-1, 0] - 0.2), intervals[-1, 0] + EPSILON * 1.5]
    features = rng.normal(size=(len(intervals), 4)).astype(np.float32)
    hits = intersect(reference, intervals)
    starts = np.flatnonzero(np.r_[True, np.diff(hits.ref_index) != 0]) if len(hits.ref_index) else np.zeros(0, int)
    want_iv, want_f = collapse_groups(hits.intervals, features, starts, "mean", rows=hits.row_index)
    ranges = kept_ranges(reference, intervals)
    assert ranges is not None
    a, b = ranges
    present = np.flatnonzero(a < b)
    assert present.tolist() == hits.ref_index[starts].tolist()
    for g, r in enumerate(present):  # the kept rows are exactly the overlaps the general rule keeps
        assert list(range(a[r], b[r])) == hits.row_index[starts[g]:(np.r_[starts, len(hits.row_index)])[g + 1]].tolist()
    ref = Entries.from_items([("v", reference, np.zeros((m, 1), np.float32))])
    _, aligned = align_group(ref, {"x": Entries.from_items([("v", intervals, features)])}, "mean")
    np.testing.assert_array_equal(aligned["x"].intervals, want_iv)
    np.testing.assert_array_equal(aligned["x"].features, want_f)
    assert aligned["x"].keys == [f"v[{r}]" for r in present]


def test_kept_ranges_declines_rows_it_cannot_prove_contiguous():
    reference = np.array([[0.0, 1.0]])
    assert kept_ranges(reference, np.array([[0.0, 2.0], [0.5, 0.6]])) is None  # nested row: ends not sorted
    assert kept_ranges(reference, np.array([[0.0, 0.0], [0.5, 0.6]])) is None  # zero-length row
    assert kept_ranges(reference, np.array([[0.0, np.nan]])) is None
    assert kept_ranges(np.array([[1.0, 0.0]]), np.array([[0.0, 0.5]])) is None  # reversed reference
    a, b = kept_ranges(np.array([[0.0, 1.0], [3.0, 3.0]]), np.array([[0.0, 0.5], [0.5, 2.0], [3.0, 4.0]]))
    assert (a[0], b[0]) == (0, 2) and a[1] == b[1]  # the second reference row is skipped (zero length)


def test_segment_sums_add_rows_in_order_like_numpy_so_means_equal_numpy_average_bit_for_bit():
    rng = np.random.default_rng(9)
    features = (rng.normal(size=(500, 6)) * rng.choice([1e-3, 1.0, 1e4], size=(500, 1))).astype(np.float32)
    features[40, 2] = np.nan
    features[41, 3] = np.inf
    bounds = np.r_[0, np.sort(rng.choice(np.arange(1, 500), 60, replace=False)), 500]
    rows = np.arange(500)
    sums = segment_sums(features, rows, bounds)
    want = np.stack([features[a:b].sum(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
    np.testing.assert_array_equal(sums, want)
    starts = bounds[:-1]
    intervals = np.stack([rows / 100.0, rows / 100.0 + 0.01], 1)
    _, means = collapse_groups(intervals, features, starts, "mean")
    sdk = np.stack([np.average(features[a:b], axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
    assert means.dtype == np.float32
    np.testing.assert_array_equal(means, sdk)
    picked = rng.permutation(500)[:200]  # arbitrary (gathered) rows, and integer features average in float64
    ints = rng.integers(-5, 5, size=(500, 3))
    got = segment_sums(ints, picked, np.array([0, 50, 200]))
    np.testing.assert_array_equal(got, [ints[picked[:50]].sum(0), ints[picked[50:]].sum(0)])
    assert got.dtype == np.float64


# ------------------------------------------------------------------------------------------------
# Equivalence with the SDK's mmdataset(...).align(...)
# ------------------------------------------------------------------------------------------------


def write_dataset(folder, dataset) -> dict:
    files = {}
    for name, data in dataset.items():
        files[name] = folder / (name.replace(" ", "_") + ".csd")
        write_csd(files[name], name, data)
    return files


def assert_same(sdk_entries: dict, ours: dict, name: str):
    assert set(sdk_entries) == set(ours), name
    for key, (sdk_iv, sdk_f) in sdk_entries.items():
        iv, f = ours[key]
        np.testing.assert_allclose(iv, sdk_iv, rtol=0, atol=1e-12, err_msg=f"{name} {key}")
        assert f.shape == sdk_f.shape, f"{name} {key}"
        np.testing.assert_allclose(f, sdk_f, rtol=2e-6, atol=1e-6, equal_nan=True, err_msg=f"{name} {key}")


def flatten(stream) -> dict:
    out = {}
    for _video, entries in stream:
        for name, seq in entries.items():
            out.setdefault(name, {}).update({k: (iv, f) for k, iv, f in seq.items()})
    return out


@needs_sdk
@pytest.mark.parametrize("seed", [0, 1])
def test_word_then_label_alignment_equals_the_sdk(tmp_path, seed):
    files = write_dataset(tmp_path, defective_dataset(seed))
    dataset = sdk_words_then_labels(MMDATASDK, files)
    readers = {name: CsdReader(path) for name, path in files.items()}
    report = AlignReport()
    ours = flatten(align_stream(readers, [Stage("glove_vectors", "mean", impute=True), Stage("All Labels")],
                                report=report))
    for name in files:
        assert_same(sdk_contents(dataset, name), ours[name], name)
    assert report.imputed["FACET 4.2"] > 0  # the gaps in FACET were exercised
    assert report.dropped_video_ids["v02x"] == "missing in COVAREP"


@needs_sdk
def test_direct_label_alignment_without_collapse_equals_the_sdk(tmp_path):
    files = write_dataset(tmp_path, defective_dataset(3))
    dataset = sdk_dataset(MMDATASDK, files)
    with quiet():
        dataset.align("All Labels")
        dataset.hard_unify()
    readers = {name: CsdReader(path) for name, path in files.items()}
    ours = flatten(align_stream(readers, [Stage("All Labels")]))
    for name in files:
        assert_same(sdk_contents(dataset, name), ours[name], name)


@needs_sdk
def test_files_written_by_write_csd_load_in_the_sdk(tmp_path):
    data = defective_dataset(4)["COVAREP"]
    path = tmp_path / "audio.csd"
    write_csd(path, "COVAREP", data)
    with quiet():
        sequence = MMDATASDK.computational_sequence(str(path))
    assert sequence.metadata["root name"] == "COVAREP"
    assert set(sequence.data) == set(data)
    for key, entry in data.items():
        np.testing.assert_array_equal(np.asarray(sequence.data[key]["features"]), entry["features"])
        np.testing.assert_array_equal(np.asarray(sequence.data[key]["intervals"]), entry["intervals"])
