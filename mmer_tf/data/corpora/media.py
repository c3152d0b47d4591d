"""What the raw-media corpora (RAVDESS, MELD, a folder of videos) share: clips -> featurized folder -> segments.

Each raw-media adapter only knows its layout (``scan``: which clips, which per-clip metadata) and its
labels (``label``: classes, a class and a fold per clip, or the reason a clip is left out). Everything
else is here, once, so the three corpora take one data flow:

1. **Featurize** (:func:`ensure_featurized`): every clip the layout lists goes through
   :func:`mmer_tf.features.featurize` into ``<pickle_folder>/featurized_<corpus>_<key>/`` where ``key``
   fingerprints the media files and the recipe. That folder holds SDK-format computational sequences
   ``text.csd``, ``audio.csd``, ``vision.csd`` (video id = clip id, intervals in seconds), the recipe
   (``recipe.json``), every clip's metadata (``clips.csv``) and ``featurized.json`` (written last: its
   presence means the folder is complete). Featurizing is resumable; label choices (``--emotions``,
   ``--meld_labels``, ``--fold``) never re-featurize, because labels are derived when the folder is read.
   ``python -m mmer_tf featurize`` writes the same folder, and ``-df`` may point at one.
2. **Align** (:func:`align_clips`), exactly as CMU-MOSEI: the computational sequences are aligned with
   :func:`mmer_tf.data.align.align_stream` to a reference sequence holding one interval per clip -- the
   utterance's text interval (the hull of the clip's text rows; of all its rows when it has no text).
   Aligned view (``align_to_text``): every modality collapsed (mean) to that interval, one step per
   clip, which every model takes. Unaligned view: every modality at its own rate inside the interval
   (MulT). Clips missing a modality are dropped by the SDK's hard unify and counted.
3. **Segments**: ids ``<clip>[0]``, labels ``[N, 1]`` (the class index, label schema ``("category",)``),
   ``info["fold"]`` per segment, ``info["per_segment"]`` (``{segment id: {speaker, dialogue, ...}}``) and the
   recipe in ``info["recipe"]`` so a trained model can featurize new clips the same way
   (:mod:`mmer_tf.predict`).

Nothing here imports TensorFlow; the featurizer is imported only when media must be featurized.

The folder's format itself (file names, writers, readers) is :mod:`mmer_tf.formats.featurized`; the fold
protocols the adapters use are in :mod:`mmer_tf.data.folds`. This module is the plumbing every raw-media
adapter delegates to, so a raw-media corpus stays one file (``docs/ARCHITECTURE.md``, "Extension points").
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from mmer_tf.data.align import AlignReport, MemorySource, Stage, align_stream
from mmer_tf.data.corpora.base import CorpusInfo
from mmer_tf.data.corpora.dropped import Dropped
from mmer_tf.formats.csd import CsdReader
from mmer_tf.formats.featurized import (  # noqa: F401  (the adapters reach the folder's format through media)
    CLIPS_CSV, MARKER, failed_media, is_featurized, modality_files, open_sequences, read_clips_csv, read_marker,
    write_clips_csv, write_marker,
)
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError

log = logging.getLogger(__name__)

REFERENCE = "segments"  # name of the per-clip reference sequence in the alignment
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus")
MEDIA_SUFFIXES = VIDEO_SUFFIXES + AUDIO_SUFFIXES
FOLD_ALIASES = {"train": "train", "training": "train", "valid": "valid", "val": "valid", "dev": "valid",
                "validation": "valid", "test": "test", "testing": "test"}


@dataclass(frozen=True)
class ClipRecord:
    """One clip a layout lists: its id (the computational sequences' video id), media file, transcript,
    and the corpus's own metadata columns (strings; what ``label`` turns into classes and folds)."""

    id: str
    media: Path
    text: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Scan:
    """A layout's clips plus what it had to pass over (reason -> file names) and extra key files."""

    records: list[ClipRecord]
    skipped: dict[str, list[str]] = field(default_factory=dict)
    extra_files: list[Path] = field(default_factory=list)  # e.g. labels CSVs: part of the cache key

    def skip(self, reason: str, name: str) -> None:
        self.skipped.setdefault(reason, []).append(name)


@dataclass
class Labelling:
    """Classes, and per clip row a class index and fold, or ``None`` with the reason it is left out."""

    classes: tuple[str, ...]
    label: list[int | None]
    fold: list[str | None]
    excluded: list[str | None]
    description: str = ""
    protocol: dict = field(default_factory=dict)  # e.g. which actors are in which fold
    #: extra label columns after ``category`` (name -> one float per clip row), e.g. IEMOCAP's
    #: valence/activation/dominance for ``-lt dimensional``
    scores: dict[str, list[float]] = field(default_factory=dict)


def clip_id(text: str) -> str:
    """A video id the SDK's conventions accept: no ``[``/``]`` (they mark segments) and no ``/``."""
    out = text.replace("[", "(").replace("]", ")").replace("/", "__").replace("\\", "__")
    return out.strip() or "_"


# ----------------------------------------------------------------------------------------------
# Featurizing a corpus into its folder (the folder's format: mmer_tf.formats.featurized)
# ----------------------------------------------------------------------------------------------


def featurized_key(media_files: Iterable[Path], recipe_dict: Mapping, corpus: str) -> str:
    from mmer_tf.data import cache

    return cache.fingerprint(list(media_files), {"corpus": corpus, "recipe": dict(recipe_dict)})[:16]


def recipe_from_config(config):
    """The featurization recipe from ``--audio_recipe/--text_recipe/--video_recipe``."""
    from mmer_tf.features import Recipe

    options = parse_recipe_options(getattr(config, "recipe_options", ()), "--recipe_options")
    try:
        return Recipe.parse(audio=config.audio_recipe, text=config.text_recipe, video=config.video_recipe,
                            **options)
    except MmerError as exc:
        raise MmerError(main_flag_names(str(exc))) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise MmerError(f"--audio_recipe/--text_recipe/--video_recipe: {exc}") from None


def parse_recipe_options(items, flag: str) -> dict[str, str]:
    """``["fps=5", "face_crop=false"]`` -> ``{"fps": "5", "face_crop": "false"}`` (the Recipe coerces types)."""
    options = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise MmerError(f"{flag} {item!r}: expected key=value (e.g. fps=5)")
        options[key.strip()] = value.strip()
    return options


def main_flag_names(message: str) -> str:
    """Recipe errors name featurize's flags (``--audio``); ``main.py``'s are ``--audio_recipe`` etc."""
    for flag in ("--audio", "--text", "--video"):
        if message.startswith(flag + " "):
            return f"{flag}_recipe{message[len(flag):]}"
    return message


#: meta columns of a record whose picture is a stretch of a separate video (IEMOCAP's dialog videos)
VIDEO_META = ("video", "video_start", "video_end", "video_region")


def clip_of(record: ClipRecord):
    """The featurizer's ``Clip`` of a record (its ``VIDEO_META`` columns, when present, name the picture)."""
    from mmer_tf.features import Clip

    meta = record.meta
    if not meta.get("video"):
        return Clip(id=record.id, media=Path(record.media), text=record.text)
    return Clip(id=record.id, media=Path(record.media), text=record.text, video=Path(meta["video"]),
                video_start=float(meta.get("video_start") or 0.0),
                video_end=float(meta["video_end"]) if meta.get("video_end") else None,
                video_region=meta.get("video_region", ""))


def ensure_featurized(records: Sequence[ClipRecord], folder: Path, recipe, *, corpus: str, root: Path,
                      scan_skipped: Mapping[str, list[str]] | None = None, workers: int = 1,
                      progress: bool = True, shard: tuple[int, int] | None = None) -> dict:
    """Featurize ``records`` into ``folder`` unless it is already complete; returns its marker.

    The featurizer writes per-clip outputs atomically and skips finished clips, so an interrupted run
    resumes; the marker is written last, after ``clips.csv``. ``shard=(i, n)``: this job-array task's
    share only (:func:`mmer_tf.features.featurize`); the shard completing the set writes the folder, the
    others return the featurizer's ``{"merged": False, "pending_shards": [...]}`` and write no marker.
    """
    folder = Path(folder)
    if is_featurized(folder, corpus):
        return read_marker(folder)
    from mmer_tf.features import featurize

    folder.mkdir(parents=True, exist_ok=True)
    clips = [clip_of(r) for r in records]
    summary = featurize(clips, folder, recipe, workers=workers, progress=progress, shard=shard)
    if summary.get("merged") is False:
        return summary
    write_clips_csv(folder / CLIPS_CSV, records, root)
    marker = {
        "corpus": corpus,
        "source": str(Path(root).resolve()),
        "clips": len(records),
        "recipe": recipe.to_dict(),
        "recipe_fingerprint": recipe.fingerprint(),
        "featurize_summary": _jsonable(summary),
        "skipped_in_layout": {k: list(v) for k, v in (scan_skipped or {}).items()},
    }
    write_marker(folder, marker)
    return marker


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


# ----------------------------------------------------------------------------------------------
# Alignment (shared with mmer_tf.predict)
# ----------------------------------------------------------------------------------------------


def reference_interval(per_modality: Mapping[str, np.ndarray]) -> tuple[float, float] | None:
    """The clip's utterance interval: the hull of its text rows, else of all rows; ``None`` if none."""
    text = per_modality.get("text")
    chosen = [text] if text is not None and len(text) else [v for v in per_modality.values() if len(v)]
    if not chosen:
        return None
    stacked = np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1, 2) for v in chosen])
    finite = stacked[np.all(np.isfinite(stacked), axis=1)]
    if not len(finite):
        return None
    start, end = float(finite[:, 0].min()), float(finite[:, 1].max())
    return (start, end) if end > start else None


def align_clips(sources: Mapping[str, object], reference: Mapping[str, tuple[float, float, float]], *,
                aligned: bool, report: AlignReport, progress: bool = False) -> Iterator[tuple[str, dict]]:
    """``(clip id, {modality: [T, D] float32})`` per clip surviving alignment, in ``reference`` order.

    ``sources``: ``{modality: CsdReader | MemorySource}``; ``reference``: ``{clip: (start, end, label)}``.
    The SDK recipe is ``align(reference, collapse=mean)`` (aligned) or ``align(reference)``, then hard
    unify -- the same :func:`align_stream` CMU-MOSEI goes through.
    """
    data = {cid: {"intervals": np.array([[s, e]], np.float64), "features": np.array([[y]], np.float32)}
            for cid, (s, e, y) in reference.items()}
    all_sources = dict(sources)
    all_sources[REFERENCE] = MemorySource(REFERENCE, data)
    stages = [Stage(REFERENCE, "mean" if aligned else None)]
    for clip, entries in align_stream(all_sources, stages, report=report, progress=progress):
        out = {}
        for modality in sources:
            seq = entries[modality]
            out[modality] = np.asarray(seq.features, dtype=np.float32).reshape(len(seq.features), -1)
        yield clip, out


def reference_for(readers: Mapping[str, CsdReader], clip_ids: Iterable[str]):
    """``{clip: (start, end)}`` from the readers (see :func:`reference_interval`) and the clips with no rows."""
    listed = {m: set(r.video_ids()) for m, r in readers.items()}
    intervals, missing = {}, []
    for cid in clip_ids:
        hull = None
        if "text" in readers and cid in listed["text"]:  # the usual case: one small read
            hull = reference_interval({"text": readers["text"].read(cid)[0]})
        if hull is None:
            hull = reference_interval({m: r.read(cid)[0] for m, r in readers.items() if cid in listed[m]})
        if hull is None:
            missing.append(cid)
        else:
            intervals[cid] = hull
    return intervals, missing


# ----------------------------------------------------------------------------------------------
# Adapter plumbing (describe / load_segments for any raw-media adapter module)
# ----------------------------------------------------------------------------------------------


def describe(adapter, path: Path, config) -> CorpusInfo:
    """CorpusInfo for a raw layout or a featurized folder of ``adapter``'s corpus (cheap: no decoding)."""
    path = Path(path)
    if is_featurized(path):
        marker = read_marker(path)
        if marker.get("corpus") != adapter.NAME:
            raise MmerError(f"-df {path}: a featurized {marker.get('corpus')} folder, not {adapter.NAME}")
        rows = read_clips_csv(path / CLIPS_CSV)
        files = [*modality_files(path).values(), path / CLIPS_CSV, path / MARKER]
        recipe_dict = marker.get("recipe", {})
        source = {"featurized": str(path.resolve())}
        n_media = len(rows)
    else:
        scan = adapter.scan(path)
        if not scan.records:
            reasons = "; ".join(f"{k}: {len(v)} (e.g. {v[0]})" for k, v in scan.skipped.items())
            raise MmerError(f"-df {path}: no {adapter.TITLE} clips found ({adapter.LAYOUT})"
                            + (f"; passed over {reasons}" if reasons else ""))
        rows = [record_row(r) for r in scan.records]
        recipe = recipe_from_config(config)
        recipe_dict = recipe.to_dict()
        media = [r.media for r in scan.records]
        key = featurized_key([*media, *scan.extra_files], recipe.key_dict(), adapter.NAME)
        featurized = Path(config.pickle_folder) / f"featurized_{adapter.NAME}_{key}"
        files = [*media, *scan.extra_files]
        source = {"featurized": str(featurized)}
        n_media = len(media)
    labelling = split_labelling(adapter, rows, config)
    if getattr(config, "split_dir", ""):  # the split definition's files key the cache too
        from mmer_tf.data.corpora import split_dir

        files = [*files, *split_dir.key_files(config.split_dir)]
    kept = sum(1 for y in labelling.label if y is not None)
    if kept == 0:
        reasons = Counter(r for r in labelling.excluded if r)
        raise MmerError(f"-df {path}: no {adapter.TITLE} clip left after label selection "
                        f"({', '.join(f'{k}: {v}' for k, v in reasons.items()) or 'none listed'})")
    params = {
        "recipe": recipe_dict,
        "align_to_text": bool(config.align_to_text),
        "split_dir": str(Path(config.split_dir).resolve()) if getattr(config, "split_dir", "") else "",
        **adapter.params(config),
        **source,
    }
    description = (f"{adapter.TITLE}: {n_media} clips, {kept} selected, {len(labelling.classes)} classes "
                   f"({labelling.description})")
    return CorpusInfo(name=adapter.NAME, path=path, files=tuple(files), label_names=("category", *labelling.scores),
                      classes=tuple(labelling.classes), params=params, has_own_split=True,
                      description=description)


def split_labelling(adapter, rows, config) -> Labelling:
    """The adapter's labelling, its folds replaced by ``--split_dir``'s lists when one is given."""
    labelling = adapter.label(rows, config)
    if getattr(config, "split_dir", ""):
        from mmer_tf.data.corpora import split_dir

        labelling = split_dir.apply(config.split_dir, rows, labelling)
    return labelling


def record_row(record: ClipRecord) -> dict[str, str]:
    return {"id": record.id, "media": str(record.media), "text": record.text or "", **dict(record.meta)}


def load_segments(adapter, corpus: CorpusInfo, config, progress: bool) -> tuple[SegmentSet, dict]:
    """Featurize (when needed), align and label every clip of the corpus; see the module docstring."""
    path = Path(corpus.path)
    if is_featurized(path):
        folder = path
        marker = read_marker(folder)
    else:
        scan = adapter.scan(path)
        folder = Path(corpus.params["featurized"])
        recipe = recipe_from_config(config)
        if not is_featurized(folder, adapter.NAME):
            log.info("featurizing %d %s clips into %s", len(scan.records), adapter.TITLE, folder)
        try:
            marker = ensure_featurized(scan.records, folder, recipe, corpus=adapter.NAME, root=path,
                                       scan_skipped=scan.skipped, workers=getattr(config, "featurize_workers", 1),
                                       progress=progress)
        except MmerError as exc:
            raise MmerError(main_flag_names(str(exc))) from None
    rows = read_clips_csv(folder / CLIPS_CSV)
    labelling = split_labelling(adapter, rows, config)
    # an adapter labelled per frame builds its own segments (whole videos on a frame axis)
    build = getattr(adapter, "segments_from_folder", segments_from_folder)
    segments, summary = build(folder, rows, labelling, aligned=bool(config.align_to_text),
                              marker=marker, progress=progress)
    segments.info.update(corpus=adapter.NAME)
    summary.update(corpus=adapter.NAME, protocol=labelling.protocol, labels=labelling.description)
    return segments, summary


def segments_from_folder(folder: Path, rows: Sequence[Mapping[str, str]], labelling: Labelling, *, aligned: bool,
                         marker: Mapping, progress: bool = False) -> tuple[SegmentSet, dict]:
    folder = Path(folder)
    readers = open_sequences(folder)
    dropped = Dropped()
    drop = dropped.add
    for reason, names in (marker.get("skipped_in_layout") or {}).items():
        for name in names:
            drop(reason, name)
    failed = failed_media(marker)
    by_id = {row["id"]: row for row in rows}
    try:
        selected = []
        for row, y, fold, why in zip(rows, labelling.label, labelling.fold, labelling.excluded):
            if y is None:
                drop(why or "excluded", row["id"])
            else:
                selected.append((row["id"], y, fold))
        hulls, missing = reference_for(readers, [cid for cid, _, _ in selected])
        for cid in missing:
            media = by_id[cid].get("media", "")
            reason = failed.get(cid) or failed.get(media) or failed.get(str(Path(marker.get("source", "")) / media))
            if reason:
                drop("unreadable media", f"{cid} ({reason})")
            else:
                drop("no features written for the clip", cid)
        reference = {cid: (*hulls[cid], float(y)) for cid, y, _ in selected if cid in hulls}
        folds = {cid: fold for cid, _, fold in selected}
        names = tuple(labelling.scores)
        extra = {row["id"]: [float(labelling.scores[n][i]) for n in names] for i, row in enumerate(rows)}
        report = AlignReport()
        ids, labels, fold_list = [], [], []
        features: dict[str, list[np.ndarray]] = {m: [] for m in readers}
        for clip, per_modality in align_clips(readers, reference, aligned=aligned, report=report,
                                              progress=progress):
            ids.append(f"{clip}[0]")
            labels.append([reference[clip][2], *extra[clip]])
            fold_list.append(folds[clip])
            for m, value in per_modality.items():
                features[m].append(value)
    finally:
        for reader in readers.values():
            reader.close()
    for clip, reason in report.dropped_video_ids.items():
        if reason.startswith("not in " + REFERENCE):
            continue  # a clip left out above (label selection, unreadable media): already counted
        drop(reason, clip)
    for reason, count in report.dropped_entries.items():
        if count:
            drop(f"segment {reason}", "?", count)
    per_segment_keys = [k for k in (rows[0].keys() if rows else []) if k in PER_SEGMENT_COLUMNS]
    # keyed by segment id (not parallel lists): a fold's subset keeps a superset that still reads right
    per_segment = {seg: {k: by_id[seg[:-3]].get(k, "") for k in per_segment_keys} for seg in ids}
    segments = SegmentSet(ids=ids, features=features,
                          labels=np.asarray(labels, np.float32).reshape(len(labels), 1 + len(names)),
                          aligned=aligned)
    segments.info.update(
        label_names=["category", *names], classes=list(labelling.classes), fold=fold_list, per_segment=per_segment,
        recipe=dict(marker.get("recipe") or {}), featurized=str(folder.resolve()), aligned_view=aligned,
    )
    counts = Counter(fold_list)
    summary = {
        "segments": len(ids),
        "folds": {f: counts.get(f, 0) for f in ("train", "valid", "test")},
        **dropped.summary(),
        "featurized": str(folder),
        "recipe": marker.get("recipe"),
        "aligned": aligned,
    }
    dropped.log(log, "clip(s)")
    return segments, summary


#: clip-table columns kept per segment in ``info["per_segment"]`` (context models, speaker analyses).
#: (kept small: every fold's cache manifest carries them; the transcript stays in the featurized clips.csv)
PER_SEGMENT_COLUMNS = ("speaker", "dialogue", "utterance", "statement", "intensity")


# ----------------------------------------------------------------------------------------------
# Fold protocols shared by the adapters
# ----------------------------------------------------------------------------------------------


def selected_emotions(config, emotions: Sequence[str], corpus: str) -> tuple[str, ...]:
    """``--emotions`` checked against the corpus's ``emotions`` and returned in their order (all of them when
    the flag is empty); an unknown name or fewer than two distinct ones is a one-line error naming ``corpus``."""
    wanted = tuple(e.strip().lower() for e in (getattr(config, "emotions", ()) or ()) if e.strip())
    unknown = [e for e in wanted if e not in emotions]
    if unknown:
        raise MmerError(f"--emotions: {', '.join(unknown)} not {corpus} emotions ({', '.join(emotions)})")
    if wanted and len(set(wanted)) < 2:
        raise MmerError(f"--emotions: {','.join(wanted)}: need at least two distinct emotions")
    return tuple(e for e in emotions if e in wanted) if wanted else tuple(emotions)


def emotion_labels(rows: Sequence[Mapping[str, str]], classes: Sequence[str],
                   left_out=lambda row: None) -> tuple[list[int | None], list[str | None]]:
    """A class index per clip row from its ``emotion`` column, or ``None`` with the reason: ``left_out(row)``
    (a corpus's own filter, e.g. RAVDESS's vocal channel) or an emotion ``--emotions`` did not select."""
    labels, excluded = [], []
    for row in rows:
        reason = left_out(row)
        if reason is None and row.get("emotion") not in classes:
            reason = "emotion not selected (--emotions)"
        labels.append(None if reason else list(classes).index(row["emotion"]))
        excluded.append(reason)
    return labels, excluded


def actor_emotion_labelling(rows: Sequence[Mapping[str, str]], config, classes: Sequence[str], *,
                            left_out=lambda row: None, actor_name=lambda actor: actor, prefix: str = "") -> Labelling:
    """The acted-emotion corpora's labels (RAVDESS, CREMA-D): one class per clip from its ``emotion``
    column, folds by actor blocks (:func:`mmer_tf.data.folds.actor_folds`).

    ``classes`` are the selected emotions (:func:`selected_emotions`); without ``--emotions`` only those
    present among the rows ``left_out`` keeps. ``prefix`` opens the log's description (RAVDESS: its channel).
    """
    from mmer_tf.data.folds import actor_folds

    if not getattr(config, "emotions", ()):
        present = {row.get("emotion") for row in rows if left_out(row) is None}
        classes = tuple(e for e in classes if e in present) or tuple(classes)
    labels, excluded = emotion_labels(rows, classes, left_out)
    if all(y is None for y in labels):
        return Labelling(tuple(classes), labels, [None] * len(rows), excluded, f"{prefix}no clip selected")
    folds, protocol = actor_folds(rows, labels, config, actor_name)
    description = (f"{prefix}emotions {','.join(classes)}; speaker-independent fold {config.fold} of "
                   f"{config.num_folds}: test {'+'.join(protocol['test'])}, valid {'+'.join(protocol['valid'])}")
    return Labelling(tuple(classes), labels, folds, excluded, description, protocol)
