"""C-EXPR-DB (ABAW's compound expressions in the wild): videos with compound labels per video or per frame.

Two layouts, both of the release and of seed 002's preprocessing:

* **annotated videos** (labels per frame): ``ROOT/videos/<video>.mp4`` and ``ROOT/annotation/<video>.csv``
  -- the release's time spans, header ``Begin Time - hh:mm:ss.ms,End Time - hh:mm:ss.ms`` then the eight
  class columns, a ``1`` marking the span's class -- or ``ROOT/annotation/<video>.txt``, ABAW's per-frame
  form (first line the class names, comma-separated; then one class index per video frame, ``-1`` for no
  label). Each step of the video's frame axis (the recipe's ``fps``; :mod:`.frame_axis`) takes the label
  at its mid-time; a step outside every span, or ``-1``, has none. A video's own label is its most
  frequent labelled class. Runs on it train on windows and write frame and video tables
  (:mod:`mmer_tf.frame_level`).
* **trimmed clips** (one label per clip): ``ROOT/trimmed_videos/<Class-Name>/<clip>.mp4`` (the seed's
  ``trimmed_videos``, class folders written with ``-``); clip ids are ``<Class-Name>__<clip>``.

Classes are the 7 ABAW compound classes in the seed's order (its ``class_id.yaml``); ``--use_other_class``
adds ``Other`` as the 8th. The split is ``--split_dir`` (the seed's ``folds/C-EXPR-DB/split-K``), else a
seeded stratified ``--num_folds`` / ``--fold`` split over videos.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from mmer_tf.data.corpora import media
from mmer_tf.data.corpora.media import VIDEO_SUFFIXES, ClipRecord, Labelling, Scan
from mmer_tf.data.folds import stratified_folds
from mmer_tf.errors import MmerError

NAME = "cexprdb"
TITLE = "C-EXPR-DB"
LAYOUT = ("ROOT/videos/*.mp4 with ROOT/annotation/<video>.csv (time spans) or .txt (a class per frame), "
          "or ROOT/trimmed_videos/<Class-Name>/*.mp4")
COMPOUND = ("Fearfully Surprised", "Happily Surprised", "Sadly Surprised", "Disgustedly Surprised",
            "Angrily Surprised", "Sadly Fearful", "Sadly Angry")
OTHER = "Other"
SPAN_HEADER = ("Begin Time - hh:mm:ss.ms", "End Time - hh:mm:ss.ms")


def classes_for(config) -> tuple[str, ...]:
    return COMPOUND + ((OTHER,) if getattr(config, "use_other_class", False) else ())


def canonical(name: str) -> str | None:
    """A class name as written anywhere (``Sadly-Fearful``, ``sadly fearful``) -> its ABAW spelling."""
    key = name.strip().replace("-", " ").replace("_", " ").lower()
    for known in COMPOUND + (OTHER,):
        if known.lower() == key:
            return known
    return None


def detect(path: Path) -> bool:
    path = Path(path)
    if media.is_featurized(path):
        return media.is_featurized(path, NAME)
    return ((path / "videos").is_dir() and (path / "annotation").is_dir()) or (path / "trimmed_videos").is_dir()


def _videos(folder: Path):
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def scan(path: Path) -> Scan:
    path = Path(path)
    result = Scan(records=[])
    if (path / "videos").is_dir() and (path / "annotation").is_dir():
        for video in _videos(path / "videos"):
            annotation = next((a for a in (path / "annotation" / f"{video.stem}.csv",
                                           path / "annotation" / f"{video.stem}.txt") if a.is_file()), None)
            if annotation is None:
                result.skip("no annotation/<video>.csv or .txt", video.name)
                continue
            result.extra_files.append(annotation)
            result.records.append(ClipRecord(id=media.clip_id(video.stem), media=video,
                                             meta={"annotation": str(annotation)}))
    elif (path / "trimmed_videos").is_dir():  # one layout per folder: annotated videos win
        for folder in sorted(p for p in (path / "trimmed_videos").iterdir() if p.is_dir()):
            name = canonical(folder.name)
            if name is None:
                result.skip("class folder not a C-EXPR-DB class", folder.name)
                continue
            for clip in _videos(folder):
                result.records.append(ClipRecord(id=media.clip_id(f"{folder.name}/{clip.stem}"), media=clip,
                                                 meta={"label": name}))
    return result


def params(config) -> dict:
    return {"use_other_class": bool(getattr(config, "use_other_class", False)), "fold": int(config.fold),
            "num_folds": int(config.num_folds), "seed": int(config.seed)}


# ----------------------------------------------------------------------------------------------
# annotation files
# ----------------------------------------------------------------------------------------------

def _seconds(stamp: str, where: str) -> float:
    try:
        hours, minutes, seconds = stamp.strip().split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        raise MmerError(f"{where}: time {stamp!r} is not hh:mm:ss.ms") from None


def read_spans(path: Path) -> list[tuple[float, float, str]]:
    """The release's CSV: ``[(begin s, end s, class name)]``."""
    text = Path(path).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    if not table or tuple(c.strip() for c in table[0][:2]) != SPAN_HEADER:
        raise MmerError(f"{path}: header must start with {', '.join(SPAN_HEADER)}")
    names = [canonical(c) for c in table[0][2:]]
    if None in names:
        raise MmerError(f"{path}: unknown class column {table[0][2 + names.index(None)]!r}")
    spans = []
    for number, row in enumerate(table[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        where = f"{path} line {number}"
        marks = [i for i, c in enumerate(row[2:]) if c.strip() not in ("", "0")]
        if len(marks) != 1:
            raise MmerError(f"{where}: expected exactly one class marked, found {len(marks)}")
        begin, end = _seconds(row[0], where), _seconds(row[1], where)
        if not end > begin:
            raise MmerError(f"{where}: the span ends before it begins")
        spans.append((begin, end, names[marks[0]]))
    return spans


def read_frame_file(path: Path) -> tuple[list[str], np.ndarray]:
    """ABAW's per-frame TXT: ``(class names, [F] int class index per frame, -1 = none)``."""
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    if not lines:
        raise MmerError(f"{path}: empty annotation")
    names = [canonical(c) for c in lines[0].split(",")]
    if None in names:
        raise MmerError(f"{path} line 1: unknown class {lines[0].split(',')[names.index(None)]!r}")
    try:
        values = np.asarray([int(v) for v in lines[1:]], np.int64)
    except ValueError:
        raise MmerError(f"{path}: frame labels must be integers (-1 for none)") from None
    if values.size and (values.min() < -1 or values.max() >= len(names)):
        raise MmerError(f"{path}: frame labels must lie in -1..{len(names) - 1}")
    return names, values


def _video_fps(path: Path) -> float:
    import av

    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
            return float(rate) if rate else 0.0
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        raise MmerError(f"{path}: cannot read the frame rate ({exc})") from None


def labels_at(row, times: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Class index (in ``classes``) at each time of the video in ``row``; NaN where there is none."""
    annotation = Path(row["annotation"])
    out = np.full(len(times), np.nan, np.float32)
    if annotation.suffix.lower() == ".csv":
        for begin, end, name in read_spans(annotation):
            if name in classes:
                out[(times >= begin) & (times < end)] = classes.index(name)
        return out
    names, values = read_frame_file(annotation)
    fps = _video_fps(Path(row["media"]))
    if not fps > 0:
        raise MmerError(f"{row['media']}: no video frame rate to place {annotation.name}'s frame labels")
    frame = np.floor(np.asarray(times) * fps).astype(np.int64)
    inside = (frame >= 0) & (frame < len(values))
    raw = np.full(len(times), -1, np.int64)
    raw[inside] = values[frame[inside]]
    # the file's class index -> ours (-1: none, or a class not kept); index -1 reads the trailing -1
    lookup = np.asarray([classes.index(n) if n in classes else -1 for n in names] + [-1], np.int64)
    mapped = lookup[raw]
    out[mapped >= 0] = mapped[mapped >= 0]
    return out


def video_label(row, classes: tuple[str, ...]) -> int | None:
    """The most frequent labelled class of an annotated video (by duration or frames); None if none."""
    annotation = Path(row["annotation"])
    counts: Counter = Counter()
    if annotation.suffix.lower() == ".csv":
        for begin, end, name in read_spans(annotation):
            if name in classes:
                counts[classes.index(name)] += end - begin
    else:
        names, values = read_frame_file(annotation)
        for value in values[values >= 0]:
            if names[value] in classes:
                counts[classes.index(names[value])] += 1
    if not counts:
        return None
    best = max(counts.values())
    return min(k for k, v in counts.items() if v == best)


# ----------------------------------------------------------------------------------------------
# adapter
# ----------------------------------------------------------------------------------------------

def label(rows, config) -> Labelling:
    classes = classes_for(config)
    labels, excluded = [], []
    for row in rows:
        if row.get("annotation"):
            y = video_label(row, classes)
            why = None if y is not None else "no labelled frame of a kept class"
        else:
            name = row.get("label", "")
            y = classes.index(name) if name in classes else None
            why = None if y is not None else f"class {name} (--use_other_class keeps Other)"
        labels.append(y)
        excluded.append(why)
    kept = [y for y in labels if y is not None]
    if len(set(kept)) < 2 and not getattr(config, "split_dir", ""):
        raise MmerError(f"{TITLE}: need at least two classes among the labelled videos to split them")
    if getattr(config, "split_dir", ""):
        folds = [None] * len(rows)  # set by --split_dir (media.split_labelling)
        return Labelling(classes, labels, folds, excluded, "split from --split_dir", {"by": "--split_dir"})
    index = [i for i, y in enumerate(labels) if y is not None]
    names, protocol = stratified_folds([labels[i] for i in index], int(config.num_folds), int(config.fold),
                                             int(config.seed))
    folds = [None] * len(rows)
    for i, name in zip(index, names):
        folds[i] = name
    return Labelling(classes, labels, folds, excluded,
                     f"stratified fold {config.fold} of {config.num_folds} (seed {config.seed})", protocol)


def segments_from_folder(folder, rows, labelling, *, aligned, marker, progress=False):
    """Annotated videos: whole videos on their frame axis with per-frame labels; trimmed clips: as every
    raw-media corpus (one segment per clip)."""
    if not any(row.get("annotation") for row in rows):
        return media.segments_from_folder(folder, rows, labelling, aligned=aligned, marker=marker, progress=progress)
    from mmer_tf.data.corpora.frame_axis import frame_segments

    classes = tuple(labelling.classes)
    source = Path(marker.get("source", "."))  # clips.csv holds media paths relative to the corpus root

    def frame_labels(row, times):
        return labels_at({**row, "media": str(source / row["media"])}, times, classes)

    return frame_segments(folder, rows, labelling, frame_labels=frame_labels, marker=marker, progress=progress)


def describe(path: Path, config):
    return media.describe(sys.modules[__name__], path, config)


def load_segments(corpus, config, progress: bool):
    return media.load_segments(sys.modules[__name__], corpus, config, progress)
