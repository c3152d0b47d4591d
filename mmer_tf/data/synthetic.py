"""A small, deterministic, CMU-MOSEI-shaped corpus in the SDK's file format.

Every user of the suite can run it end to end without downloading CMU-MOSEI: ``generate_sample`` writes
the five computational sequences a CMU-MOSEI folder holds, under their real file and root names, with
real standard-fold video ids, real dimensions and frame rates, MOSEI-like label statistics and the real
files' defects, so the same adapter, alignment, cache and models run on it as on the real corpus:

=============  ==========================================  =====  ============
root name      file                                         dim    rate
=============  ==========================================  =====  ============
glove_vectors  CMU_MOSEI_TimestampedWordVectors.csd          300    one per word
COVAREP        CMU_MOSEI_COVAREP.csd                          74    100 Hz
FACET 4.2      CMU_MOSEI_VisualFacet42.csd                    35    30 Hz
OpenFace_2     CMU_MOSEI_VisualOpenFace2.csd                 713    30 Hz
All Labels     CMU_MOSEI_Labels.csd                            7    one per segment
=============  ==========================================  =====  ============

Labels are ``[sentiment, happy, sad, anger, surprise, disgust, fear]``: emotions are presence scores in
multiples of 1/3 in [0, 3] (the mean of three annotators' 0-3 ratings), present with MOSEI-like rates
(happy ~50 %, sad ~25 %, anger ~20 %, disgust ~17 %, surprise ~9 %, fear ~8 %; ~30 % of segments carry
no emotion at all); sentiment is a multiple of 1/3 in [-3, 3] that follows the emotions plus noise.

The emotion signal is planted so that models can learn it and fusion pays off: each modality sees a
*noisy, partial* view of the label vector -- text mostly sentiment/happy/sad, audio mostly
anger/surprise/fear, vision mostly happy/disgust/fear/surprise, each the rest only weakly -- added to
the features of every word/frame inside the segment with a half-sine envelope (so it lives both in the
segment mean and in the temporal shape that survives per-segment z-normalisation). On top come a
per-video speaker offset, per-step noise and per-dimension scales/offsets (COVAREP- and FACET-like
magnitudes), which is what normalisation is for.

Defects of the real files that downstream code must survive: NaN rows and ``-inf`` values in COVAREP,
one video missing from COVAREP, zero-length words (start == end), out-of-vocabulary words with all-zero
vectors, and a couple of labelled videos that are in no standard fold.

Generation is streamed per video (each video's features come from a generator seeded by
``(seed, video index, modality)``), so large samples for benchmarks never hold a whole modality in memory
and every file is reproducible on its own.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from mmer_tf.formats.csd import CsdReader, write_csd
from mmer_tf.data.folds import standard_folds
from mmer_tf.data.segments import FOLDS, LABEL_NAMES
from mmer_tf.errors import MmerError
from mmer_tf.fileio import umask_mode

log = logging.getLogger(__name__)

GENERATOR_VERSION = 2
SUMMARY_FILE = "sample.json"


@dataclass(frozen=True)
class SequenceSpec:
    key: str  # our name for it
    root: str  # the SDK's root group name
    filename: str
    dim: int
    rate: float | None  # frames per second; None for word- or segment-timed sequences


SEQUENCES = {
    "text": SequenceSpec("text", "glove_vectors", "CMU_MOSEI_TimestampedWordVectors.csd", 300, None),
    "audio": SequenceSpec("audio", "COVAREP", "CMU_MOSEI_COVAREP.csd", 74, 100.0),
    "facet": SequenceSpec("facet", "FACET 4.2", "CMU_MOSEI_VisualFacet42.csd", 35, 30.0),
    "openface": SequenceSpec("openface", "OpenFace_2", "CMU_MOSEI_VisualOpenFace2.csd", 713, 30.0),
    "labels": SequenceSpec("labels", "All Labels", "CMU_MOSEI_Labels.csd", 7, None),
}

# Presence rates of happy, sad, anger, surprise, disgust, fear among all segments (CMU-MOSEI-like).
PRESENCE_RATES = np.array([0.50, 0.25, 0.20, 0.09, 0.17, 0.08])
NEUTRAL_RATE = 0.20  # segments forced to carry no emotion, on top of the independent draws

# How strongly each modality sees each label component (sentiment, happy, sad, anger, surprise,
# disgust, fear): each sees its own part well and the rest weakly, so all three together beat any one.
VIEW_WEIGHTS = {
    "text": np.array([1.0, 1.0, 1.0, 0.2, 0.2, 0.2, 0.2]),
    "audio": np.array([0.4, 0.2, 0.2, 1.0, 1.0, 0.2, 1.0]),
    "vision": np.array([0.2, 1.0, 0.2, 0.2, 0.6, 1.0, 0.6]),
}
VIEW_NOISE = 0.5  # std of each modality's own segment-level noise on its view of the labels
SPEAKER_OFFSET_STD = 0.2  # per-video offset of every audio/visual feature, in noise-std units (0.5 drowns linear models)
COVAREP_NAN_ROW_RATE = 0.005  # fraction of COVAREP frames that are all-NaN
COVAREP_NEG_INF_ROW_RATE = 0.01  # fraction of COVAREP frames with -inf in two columns
_LABEL_SCALE = np.array([1.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # puts sentiment on the emotions' scale

_STREAM = {"layout": 0, "text": 1, "audio": 2, "facet": 3, "openface": 4, "params": 5}


@dataclass
class _Video:
    vid: str
    fold: str | None
    duration: float
    starts: np.ndarray  # [n] segment start seconds
    ends: np.ndarray  # [n]
    labels: np.ndarray  # [n, 7]
    views: dict[str, np.ndarray]  # modality -> [n, 7] noisy view of the labels


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def draw_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """``[n, 7]`` labels with MOSEI-like presence rates, 1/3-step scores and derived sentiment."""
    neutral = rng.random(n) < NEUTRAL_RATE
    present = (rng.random((n, 6)) < PRESENCE_RATES / (1.0 - NEUTRAL_RATE)) & ~neutral[:, None]
    # Intensity steps 1..9 (score k/3), skewed low as in MOSEI, where 1/3 and 2/3 dominate.
    steps = np.arange(1, 10)
    step_p = 0.62 ** steps
    k = rng.choice(steps, size=(n, 6), p=step_p / step_p.sum())
    emotions = np.where(present, k / 3.0, 0.0)
    polarity = np.array([1.0, -0.7, -0.6, 0.1, -0.5, -0.4])
    raw = 0.3 + emotions @ polarity + rng.normal(0.0, 0.7, n)
    sentiment = np.clip(np.round(raw * 3.0) / 3.0, -3.0, 3.0)
    return np.column_stack([sentiment, emotions]).astype(np.float32)


def _choose_videos(rng: np.random.Generator, n_videos: int) -> list[tuple[str, str]]:
    folds = standard_folds("mosei")
    total = sum(len(ids) for ids in folds.values())
    if not 3 <= n_videos <= total:
        raise MmerError(f"n_videos={n_videos}: the built-in sample needs 3..{total} videos")
    counts = {name: max(1, int(round(n_videos * len(folds[name]) / total))) for name in FOLDS}
    counts["train"] = n_videos - counts["valid"] - counts["test"]
    chosen = []
    for name in FOLDS:
        pick = np.sort(rng.choice(len(folds[name]), size=counts[name], replace=False))
        chosen += [(folds[name][i], name) for i in pick]
    return chosen


def _layout(
    seed: int,
    n_videos: int,
    unlisted_videos: int,
    segments_per_video: tuple[int, int],
    segment_seconds: tuple[float, float],
    gap_seconds: tuple[float, float],
) -> list[_Video]:
    """Video ids, segment timings, labels and each modality's noisy label view (small; all in memory)."""
    rng = _rng(seed, _STREAM["layout"])
    chosen = _choose_videos(rng, n_videos)
    chosen += [(f"zzUnlisted{i:03d}", None) for i in range(unlisted_videos)]
    lo, hi = segments_per_video
    if not 1 <= lo <= hi:
        raise MmerError(f"segments_per_video={segments_per_video}: need 1 <= low <= high")
    videos = []
    for vid, fold in chosen:
        n = int(rng.integers(lo, hi + 1))
        lengths = rng.uniform(*segment_seconds, n)
        gaps = rng.uniform(*gap_seconds, n + 1)
        starts = np.round(gaps[0] + np.concatenate([[0.0], np.cumsum(lengths + gaps[1:])[:-1]]), 3)
        ends = np.round(starts + lengths, 3)
        labels = draw_labels(rng, n)
        scaled = labels / _LABEL_SCALE
        views = {
            m: (scaled + rng.normal(0.0, VIEW_NOISE, scaled.shape)) * w for m, w in VIEW_WEIGHTS.items()
        }
        videos.append(_Video(vid, fold, float(ends[-1] + gaps[-1]), starts, ends, labels, views))
    return videos


def _segment_index(times: np.ndarray, video: _Video) -> tuple[np.ndarray, np.ndarray]:
    """For each time: the segment containing it (or -1) and its relative position in it [0, 1]."""
    k = np.searchsorted(video.starts, times, side="right") - 1
    safe = np.maximum(k, 0)
    inside = (k >= 0) & (times < video.ends[safe])
    rel = (times - video.starts[safe]) / (video.ends[safe] - video.starts[safe])
    return np.where(inside, k, -1), np.clip(rel, 0.0, 1.0)


def _planted(times: np.ndarray, video: _Video, view: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """``[len(times), D]`` label signal: the segment's view projected, times a half-sine envelope."""
    k, rel = _segment_index(times, video)
    envelope = np.where(k >= 0, 0.5 + np.sin(np.pi * rel), 0.0).astype(np.float32)
    per_segment = (view @ projection).astype(np.float32)  # [n_segments, D]
    return per_segment[np.maximum(k, 0)] * envelope[:, None]


class _Params:
    """Fixed per-corpus parameters: projections, per-dimension scales and offsets, the vocabulary."""

    def __init__(self, seed: int, vocabulary: int):
        rng = _rng(seed, _STREAM["params"])
        self.projection = {}
        for key, view in (("text", "text"), ("audio", "audio"), ("facet", "vision"), ("openface", "vision")):
            dim = SEQUENCES[key].dim
            self.projection[key] = (rng.normal(0.0, 1.0, (7, dim)) / np.sqrt(7.0)).astype(np.float32)
        self.view_of = {"text": "text", "audio": "audio", "facet": "vision", "openface": "vision"}
        self.offset = {k: rng.normal(0.0, 3.0, SEQUENCES[k].dim).astype(np.float32) for k in ("audio", "facet", "openface")}
        self.scale = {k: np.exp(rng.normal(0.0, 1.0, SEQUENCES[k].dim)).astype(np.float32) for k in ("audio", "facet", "openface")}
        self.vocabulary = rng.normal(0.0, 0.3, (vocabulary, 300)).astype(np.float32)


def _frame_entries(key: str, videos: list[_Video], params: _Params, seed: int, missing: set[str], defects: dict):
    """Stream ``(vid, intervals, features)`` of a frame-rate sequence (COVAREP, FACET, OpenFace)."""
    spec = SEQUENCES[key]
    for index, video in enumerate(videos):
        if video.vid in missing:
            continue
        rng = _rng(seed, _STREAM[key], index)
        n = int(np.floor(video.duration * spec.rate))
        starts = np.arange(n, dtype=np.float64) / spec.rate
        intervals = np.column_stack([starts, starts + 1.0 / spec.rate])
        z = rng.standard_normal((n, spec.dim), dtype=np.float32)
        z += rng.normal(0.0, SPEAKER_OFFSET_STD, spec.dim).astype(np.float32)  # speaker / recording offset
        z += _planted(starts + 0.5 / spec.rate, video, video.views[params.view_of[key]], params.projection[key])
        features = params.offset[key] + params.scale[key] * z
        if key == "audio":
            nan_rows = rng.random(n) < COVAREP_NAN_ROW_RATE
            features[nan_rows] = np.nan
            inf_rows = (rng.random(n) < COVAREP_NEG_INF_ROW_RATE) & ~nan_rows
            features[np.ix_(inf_rows, [0, 37])] = -np.inf
            defects["covarep_nan_rows"] += int(nan_rows.sum())
            defects["covarep_neg_inf_values"] += int(2 * inf_rows.sum())
        yield video.vid, intervals, features


def _word_entries(videos: list[_Video], params: _Params, seed: int, defects: dict):
    """Stream glove-vector words: 0.15-0.6 s each over the whole video, a few zero-length and OOV."""
    for index, video in enumerate(videos):
        rng = _rng(seed, _STREAM["text"], index)
        durations = rng.uniform(0.15, 0.6, int(video.duration / 0.15) + 2)
        ends = np.cumsum(durations)
        ends = ends[: int(np.searchsorted(ends, video.duration)) + 1]
        ends[-1] = video.duration
        starts = np.concatenate([[0.0], ends[:-1]])
        zero_length = rng.random(len(ends)) < 0.02
        ends = np.where(zero_length, starts, ends)
        tokens = rng.integers(0, len(params.vocabulary), len(ends))
        vectors = params.vocabulary[tokens]
        mids = (starts + ends) / 2.0
        vectors = vectors + 0.3 * _planted(mids, video, video.views["text"], params.projection["text"])
        oov = rng.random(len(ends)) < 0.03
        vectors[oov] = 0.0
        defects["zero_length_words"] += int(zero_length.sum())
        defects["oov_zero_words"] += int(oov.sum())
        yield video.vid, np.column_stack([starts, ends]), vectors.astype(np.float32)


def _label_entries(videos: list[_Video]):
    for video in videos:
        yield video.vid, np.column_stack([video.starts, video.ends]), video.labels


def generate_sample(
    folder: str | os.PathLike,
    n_videos: int = 240,
    seed: int = 0,
    segments_per_video: tuple[int, int] = (3, 8),
    segment_seconds: tuple[float, float] = (1.0, 3.0),
    gap_seconds: tuple[float, float] = (0.1, 0.6),
    unlisted_videos: int = 2,
    vocabulary: int = 2000,
    include_openface: bool = True,
) -> dict:
    """Write a CMU-MOSEI-shaped corpus into ``folder`` and return (and store as ``sample.json``) a summary.

    ``n_videos`` videos are drawn from the standard MOSEI folds in proportion to the folds' sizes
    (≤ 3227); ``unlisted_videos`` extra labelled videos belong to no fold (the adapter must drop them).
    Same arguments -> byte-identical features and labels. ``include_openface=False`` skips the 713-d
    OpenFace file (the largest) for runs that only use FACET.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    videos = _layout(seed, n_videos, unlisted_videos, segments_per_video, segment_seconds, gap_seconds)
    params = _Params(seed, vocabulary)
    listed = [v for v in videos if v.fold is not None]
    missing_audio = {listed[len(listed) // 2].vid}
    defects = {"covarep_nan_rows": 0, "covarep_neg_inf_values": 0, "zero_length_words": 0, "oov_zero_words": 0}
    files = {}
    keys = ["text", "audio", "facet"] + (["openface"] if include_openface else []) + ["labels"]
    for key in keys:
        spec = SEQUENCES[key]
        if key == "text":
            entries = _word_entries(videos, params, seed, defects)
        elif key == "labels":
            entries = _label_entries(videos)
        else:
            entries = _frame_entries(key, videos, params, seed, missing_audio if key == "audio" else set(), defects)
        meta = {
            "computational sequence description": f"built-in CMU-MOSEI-shaped sample: {spec.root}",
            "dataset name": "CMU-MOSEI (synthetic sample)",
            "dimension names": list(LABEL_NAMES) if key == "labels" else [],
        }
        write_csd(folder / spec.filename, spec.root, entries, metadata=meta)
        files[key] = spec.filename
    labels = np.concatenate([v.labels for v in videos])
    summary = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "n_videos": n_videos,
        "unlisted_video_ids": [v.vid for v in videos if v.fold is None],
        "video_ids": {name: [v.vid for v in videos if v.fold == name] for name in FOLDS},
        "n_segments": int(len(labels)),
        "files": files,
        "roots": {key: SEQUENCES[key].root for key in keys},
        "dims": {key: SEQUENCES[key].dim for key in keys},
        "rates": {key: SEQUENCES[key].rate for key in keys if SEQUENCES[key].rate},
        "missing": {"COVAREP": sorted(missing_audio)},
        "defects": defects,
        "presence_rate": dict(zip(LABEL_NAMES[1:], np.mean(labels[:, 1:] > 0, axis=0).round(4).tolist())),
        "all_zero_fraction": round(float(np.mean(np.all(labels[:, 1:] == 0, axis=1))), 4),
        "params": {
            "segments_per_video": list(segments_per_video),
            "segment_seconds": list(segment_seconds),
            "gap_seconds": list(gap_seconds),
            "vocabulary": vocabulary,
            "include_openface": include_openface,
        },
    }
    # Sizes let a later run spot a damaged copy (truncated, overwritten) without hashing 400 MB.
    summary["file_bytes"] = {name: (folder / name).stat().st_size for name in files.values()}
    summary["videos_per_file"] = {name: sum(1 for v in videos if key != "audio" or v.vid not in missing_audio)
                                  for key, name in files.items()}
    try:
        (folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=1), encoding="utf-8")
    except OSError as exc:
        (folder / SUMMARY_FILE).unlink(missing_ok=True)
        raise MmerError(f"{folder / SUMMARY_FILE}: write failed ({exc.strerror})") from None
    return summary


def _damage(folder: Path) -> str | None:
    """Why ``folder`` is not a usable current sample (``None`` if it is): missing, from another
    generator version, or damaged -- a file missing, of another size than written, not readable as
    HDF5, or holding another number of videos. Cheap: sizes and HDF5 headers, no hashing."""
    if not folder.exists():
        return "missing"
    try:
        summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{SUMMARY_FILE} unreadable ({type(exc).__name__})"
    if summary.get("generator_version") != GENERATOR_VERSION:
        return f"generator version {summary.get('generator_version')} != {GENERATOR_VERSION}"
    sizes = summary.get("file_bytes") or {}
    counts = summary.get("videos_per_file") or {}
    for name in summary.get("files", {}).values():
        path = folder / name
        if not path.is_file():
            return f"{name} missing"
        if name in sizes and path.stat().st_size != sizes[name]:
            return f"{name} has {path.stat().st_size} bytes, {sizes[name]} were written"
        try:
            with CsdReader(path) as reader:
                if name in counts and len(reader) != counts[name]:
                    return f"{name} holds {len(reader)} videos, {counts[name]} were written"
        except (MmerError, OSError, ValueError, KeyError) as exc:
            return f"{name} unreadable ({exc})"
    if not sizes:
        return "no recorded file sizes (written by an older version)"
    return None


def _is_current(folder: Path) -> bool:
    return _damage(folder) is None


def _remove_stale_temporaries(pickle_folder: Path, target: Path) -> None:
    """Hidden ``.<sample>.*`` folders left by a killed generation. Called under the sample's lock, so no
    live run owns them; left in place, they would keep a small disk full for every later run."""
    for stale in pickle_folder.glob(f".{target.name}.*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def builtin_sample_folder(pickle_folder: str | os.PathLike, n_videos: int = 240, seed: int = 0) -> Path:
    """Generate the built-in sample once into ``<pickle_folder>/builtin_sample_<n>_<seed>/``; reuse it.

    Generation happens in a temporary sibling folder that is renamed into place, under a file lock, so
    concurrent runs generate it once and nobody ever reads a half-written sample. A folder left by an
    older generator version, or damaged (see :func:`_damage`), is replaced; hidden temporary folders
    of a killed generation are removed; a full or read-only ``pickle_folder`` is one :class:`MmerError`.
    """
    pickle_folder = Path(pickle_folder)
    if pickle_folder.exists() and not pickle_folder.is_dir():
        raise MmerError(f"{pickle_folder}: -pf must be a folder, this is a file")
    try:
        pickle_folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MmerError(f"{pickle_folder}: cannot create the cache folder ({exc.strerror})") from None
    target = pickle_folder / f"builtin_sample_{n_videos}_{seed}"
    if _is_current(target):
        return target
    try:
        with FileLock(str(target) + ".lock"):
            why = _damage(target)
            if why is None:
                return target
            _remove_stale_temporaries(pickle_folder, target)
            if why != "missing":
                log.warning("the built-in sample in %s is unusable (%s): regenerating it", target, why)
            _generate_into(pickle_folder, target, n_videos, seed)
    except OSError as exc:  # the lock file or the temporary folder: a read-only or full -pf
        raise MmerError(f"{pickle_folder}: cannot write the built-in sample ({exc.strerror or exc})") from None
    return target


def _generate_into(pickle_folder: Path, target: Path, n_videos: int, seed: int) -> None:
    log.warning("generating the built-in CMU-MOSEI-shaped sample (%d videos, seed %d) in %s", n_videos, seed, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=pickle_folder))
    try:
        generate_sample(tmp, n_videos=n_videos, seed=seed)
        os.chmod(tmp, umask_mode(0o777))
        if target.exists():
            stale = Path(tempfile.mkdtemp(prefix=f".{target.name}.stale.", dir=pickle_folder))
            os.replace(target, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(tmp, target)
    except MmerError as exc:
        raise MmerError(f"cannot generate the built-in sample in {pickle_folder}: {exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
