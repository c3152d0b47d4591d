"""A user's own clips: any folder of video/audio files plus ``labels.csv`` -> category segments.

``labels.csv`` (UTF-8, header required) has the columns ``file,label`` and optionally ``split``,
``text`` and ``speaker``:

* ``file``: the clip's path relative to the folder (``happy/clip01.mp4``, ``a.wav``); ids are that path
  without its suffix (``/`` written ``__``);
* ``label``: the class name; classes are the distinct labels, sorted;
* ``split``: ``train``/``valid`` (or ``val``, ``dev``)/``test`` -- used as given when present;
* ``text``: the transcript (featurized by the text recipe; empty: no words);
* ``speaker``: without a split column, folds are speaker-independent: the sorted speakers are cut
  into ``--num_folds`` blocks, block ``--fold`` tests, the next validates (as RAVDESS's actors).

With neither a split nor a speaker column the split is a seeded stratified k-fold over clips
(``--num_folds``, ``--fold``, ``--seed``): per class, shuffled clips are dealt round-robin into the
folds. A row whose file is missing is passed over and counted; a row with an empty label is an error.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from mmer_tf.data.corpora import media
from mmer_tf.data.corpora.media import FOLD_ALIASES, ClipRecord, Labelling, Scan
from mmer_tf.data.folds import group_folds, stratified_folds
from mmer_tf.data.text_files import read_text
from mmer_tf.errors import MmerError

NAME = "videos"
TITLE = "video folder"
LAYOUT = "FOLDER/labels.csv with columns file,label[,split][,text][,speaker] and the clips it lists"
LABELS = "labels.csv"


def _header(path: Path) -> list[str]:
    try:
        try:
            text = read_text(path)
        except MmerError:  # detected by its header; read_labels then says what is wrong with the rest
            text = path.read_bytes().decode("utf-8", "replace")
        return [c.strip().lower() for c in next(csv.reader(io.StringIO(text, newline="")), [])]
    except (OSError, csv.Error):
        return []


def detect(path: Path) -> bool:
    if media.is_featurized(path):
        return media.is_featurized(path, NAME)
    labels = Path(path) / LABELS
    if not labels.is_file():
        return False
    header = _header(labels)
    return "file" in header and "label" in header


def read_labels(path: Path) -> list[dict[str, str]]:
    try:
        text = read_text(path)  # UTF-8, or UTF-16 with BOM; another encoding is one line
    except OSError as exc:
        raise MmerError(f"{path}: cannot read ({exc})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise MmerError(f"{path}: empty file")
    reader.fieldnames = [c.strip().lower() for c in reader.fieldnames]
    missing = [c for c in ("file", "label") if c not in reader.fieldnames]
    if missing:
        raise MmerError(f"{path}: missing column(s) {', '.join(missing)} (need file,label[,split][,text][,speaker])")
    try:
        return [{k: (v or "").strip() if k != "text" else (v or "") for k, v in row.items() if k} for row in reader]
    except csv.Error as exc:
        raise MmerError(f"{path}: malformed CSV ({exc})") from None


def scan(path: Path) -> Scan:
    path = Path(path)
    labels_path = path / LABELS
    if not labels_path.is_file():
        raise MmerError(f"-df {path}: no {LABELS} (need columns file,label[,split][,text][,speaker])")
    result = Scan(records=[], extra_files=[labels_path])
    seen = set()
    for number, row in enumerate(read_labels(labels_path), start=2):
        if not row.get("file"):
            raise MmerError(f"{labels_path} line {number}: empty file name")
        if not row.get("label"):
            raise MmerError(f"{labels_path} line {number}: empty label for {row['file']}")
        file = path / row["file"]
        if not file.is_file():
            result.skip("listed file not found", row["file"])
            continue
        cid = media.clip_id(str(Path(row["file"]).with_suffix("")))
        if cid in seen:
            raise MmerError(f"{labels_path} line {number}: {row['file']} listed twice (or two files share "
                            "a name up to the suffix)")
        seen.add(cid)
        split = row.get("split", "")
        if "split" in row and split.lower() not in FOLD_ALIASES:
            raise MmerError(f"{labels_path} line {number}: split {split!r} is not train, valid (val, dev) or test")
        meta = {"label": row["label"]}
        if "split" in row:
            meta["split"] = FOLD_ALIASES[split.lower()]
        if "speaker" in row:
            meta["speaker"] = row["speaker"]
        result.records.append(ClipRecord(id=cid, media=file, text=row.get("text") or None, meta=meta))
    return result


def params(config) -> dict:
    return {"fold": int(config.fold), "num_folds": int(config.num_folds), "seed": int(config.seed)}


def label(rows, config) -> Labelling:
    classes = tuple(sorted({row["label"] for row in rows}))
    if len(classes) < 2:
        raise MmerError(f"{LABELS}: need at least two distinct labels (found {', '.join(classes) or 'none'})")
    labels = [classes.index(row["label"]) for row in rows]
    excluded = [None] * len(rows)
    if rows and rows[0].get("split"):
        folds = [row["split"] for row in rows]
        return Labelling(classes, labels, folds, excluded, "split from labels.csv", {"by": "split column"})
    if rows and "speaker" in rows[0] and all(row.get("speaker") for row in rows):
        assignment, protocol = group_folds([row["speaker"] for row in rows], int(config.num_folds),
                                                 int(config.fold), what="speaker")
        folds = [assignment[row["speaker"]] for row in rows]
        return Labelling(classes, labels, folds, excluded,
                         f"speaker-independent fold {config.fold} of {config.num_folds}: test "
                         f"{'+'.join(protocol['test'])}", protocol)
    folds, protocol = stratified_folds(labels, int(config.num_folds), int(config.fold), int(config.seed))
    return Labelling(classes, labels, folds, excluded,
                     f"stratified fold {config.fold} of {config.num_folds} (seed {config.seed})", protocol)


def describe(path: Path, config):
    return media.describe(sys.modules[__name__], path, config)


def load_segments(corpus, config, progress: bool):
    return media.load_segments(sys.modules[__name__], corpus, config, progress)
