"""MELD from its media: the official MELD.Raw layout -> category segments on the official splits.

Accepted layout (``-df`` is the folder ``MELD.Raw.tar.gz`` extracts to, or any folder holding these up
to two levels down)::

    train_sent_emo.csv   dev_sent_emo.csv   test_sent_emo.csv
    train_splits/dia{D}_utt{U}.mp4                       (train.tar.gz)
    dev_splits_complete/dia{D}_utt{U}.mp4                (dev.tar.gz;  ``dev_splits/`` also accepted)
    output_repeated_splits_test/dia{D}_utt{U}.mp4        (test.tar.gz; ``test_splits/`` also accepted)

The CSVs have the columns ``Sr No., Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID,
Season, Episode, StartTime, EndTime``; an utterance may hold commas, quotes and line breaks (standard
CSV quoting). They are decoded as UTF-8 (with or without BOM), falling back to Windows-1252; text that
was UTF-8 read as Latin-1 and saved again (the official files' ``â€™`` for ``’``) is repaired. A CSV
row whose clip is missing (the official ``train dia125_utt3``), a clip with no row (the test folder's
``final_videos_test*.mp4``) and a row with an unknown label are passed over and counted.

Labels (``--meld_labels``): ``emotion`` (7: neutral, surprise, fear, sadness, joy, disgust, anger --
MELD's own index order), ``sentiment`` (3: neutral, positive, negative), or ``joint``: seed 000's eight
emotion x sentiment classes (its ``neutralneutral, angernegative, ...`` written ``neutral_neutral``,
``anger_negative``, ...); other pairs are left out and counted. Splits are MELD's own (dev -> valid).
Clip ids are ``<split>_dia{D}_utt{U}`` (dialogue numbers restart per split); the transcript is the
utterance; speaker, dialogue and utterance numbers go into ``info["per_segment"]``.
The paper's headline metric is weighted F1 (``f1_weighted`` in ``classification_category.csv``).
"""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

from mmer_tf.data.corpora import media
from mmer_tf.data.corpora.media import ClipRecord, Labelling, Scan
from mmer_tf.errors import MmerError

NAME = "meld"
TITLE = "MELD"
LAYOUT = "{train,dev,test}_sent_emo.csv + train_splits/, dev_splits_complete/, output_repeated_splits_test/"

EMOTIONS = ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")
SENTIMENTS = ("neutral", "positive", "negative")
JOINT = ("neutral_neutral", "anger_negative", "disgust_negative", "fear_negative", "joy_positive",
         "sadness_negative", "surprise_negative", "surprise_positive")
LABEL_SETS = {"emotion": EMOTIONS, "sentiment": SENTIMENTS, "joint": JOINT}
SPLITS = {  # split -> (csv name, clip folder names, fold)
    "train": ("train_sent_emo.csv", ("train_splits",), "train"),
    "dev": ("dev_sent_emo.csv", ("dev_splits_complete", "dev_splits"), "valid"),
    "test": ("test_sent_emo.csv", ("output_repeated_splits_test", "test_splits"), "test"),
}
REQUIRED = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")
# A UTF-8 lead byte then 1-3 continuation bytes, as Windows-1252 shows them (0x80-0xBF).
_CONT = "\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
_MOJIBAKE = re.compile(f"[\u00c2-\u00f4][{_CONT}]{{1,3}}")


def decode_csv_bytes(raw: bytes) -> str:
    """UTF-8 (BOM or not), else Windows-1252, else Latin-1 (never fails)."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def repair_text(text: str) -> str:
    """Undo UTF-8 read as Windows-1252/Latin-1 (``heâ€™s`` -> ``he’s``); other text is returned as is."""
    def fix(match: re.Match) -> str:
        piece = match.group(0)
        for encoding in ("cp1252", "latin-1"):
            try:
                return piece.encode(encoding).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
        return piece

    return _MOJIBAKE.sub(fix, text)


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of one ``*_sent_emo.csv`` with stripped header names; one-line error if columns are missing."""
    try:
        text = decode_csv_bytes(Path(path).read_bytes())
    except OSError as exc:
        raise MmerError(f"{path}: cannot read ({exc})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:
        raise MmerError(f"{path}: empty CSV")
    reader.fieldnames = [name.strip() for name in reader.fieldnames]
    missing = [c for c in REQUIRED if c not in reader.fieldnames]
    if missing:
        raise MmerError(f"{path}: not a MELD CSV, missing column(s) {', '.join(missing)} "
                        f"(has {', '.join(reader.fieldnames)})")
    try:
        return [{k: (v if v is not None else "") for k, v in row.items() if k is not None} for row in reader]
    except csv.Error as exc:
        raise MmerError(f"{path}: malformed CSV ({exc})") from None


def _find(root: Path, names) -> Path | None:
    for depth in ("", "*/", "*/*/"):
        for name in names:
            hits = sorted(p for p in root.glob(depth + name))
            if hits:
                return hits[0]
    return None


def find_layout(path: Path) -> dict[str, tuple[Path | None, Path | None]]:
    """``{split: (csv or None, clip folder or None)}``."""
    path = Path(path)
    return {split: (_find(path, (csv_name,)), _find(path, folders))
            for split, (csv_name, folders, _) in SPLITS.items()}


def detect(path: Path) -> bool:
    if media.is_featurized(path):
        return media.is_featurized(path, NAME)
    if not Path(path).is_dir():
        return False
    return any(csv_path is not None for csv_path, _ in find_layout(path).values())


def scan(path: Path) -> Scan:
    result = Scan(records=[])
    layout = find_layout(path)
    for split, (csv_path, clip_dir) in layout.items():
        if csv_path is None:
            continue
        result.extra_files.append(csv_path)
        if clip_dir is None:
            raise MmerError(f"-df {path}: {csv_path.name} found but no {' or '.join(SPLITS[split][1])}/ "
                            f"folder of {split} clips")
        seen = set()
        for number, row in enumerate(read_csv(csv_path), start=2):
            try:
                dialogue, utterance = int(row["Dialogue_ID"]), int(row["Utterance_ID"])
            except ValueError:
                result.skip(f"{csv_path.name}: bad Dialogue_ID/Utterance_ID", f"line {number}")
                continue
            name = f"dia{dialogue}_utt{utterance}"
            if name in seen:
                result.skip("duplicate CSV row", f"{split}/{name}")
                continue
            seen.add(name)
            emotion, sentiment = row["Emotion"].strip().lower(), row["Sentiment"].strip().lower()
            if emotion not in EMOTIONS or sentiment not in SENTIMENTS:
                result.skip("unknown emotion or sentiment label", f"{csv_path.name} line {number}")
                continue
            file = clip_dir / f"{name}.mp4"
            if not file.is_file():
                result.skip("CSV row without its clip", f"{split}/{name}.mp4")
                continue
            meta = {
                "split": split, "emotion": emotion, "sentiment": sentiment,
                "speaker": repair_text(row["Speaker"].strip()), "dialogue": f"{split}_{dialogue}",
                "utterance": str(utterance), "season": row.get("Season", ""), "episode": row.get("Episode", ""),
                "start": row.get("StartTime", ""), "end": row.get("EndTime", ""),
            }
            result.records.append(ClipRecord(id=f"{split}_{name}", media=file,
                                             text=repair_text(row["Utterance"].strip()), meta=meta))
        listed = {f"{n}.mp4" for n in seen}
        for file in sorted(clip_dir.glob("*.mp4")):
            if file.name not in listed:
                result.skip("clip without a CSV row", f"{split}/{file.name}")
    if not any(csv_path for csv_path, _ in layout.values()):
        raise MmerError(f"-df {path}: no MELD CSV ({', '.join(v[0] for v in SPLITS.values())})")
    return result


def params(config) -> dict:
    return {"meld_labels": config.meld_labels}


def label(rows, config) -> Labelling:
    kind = config.meld_labels
    if kind not in LABEL_SETS:
        raise MmerError(f"--meld_labels {kind!r}: expected one of {', '.join(LABEL_SETS)}")
    classes = LABEL_SETS[kind]
    labels, folds, excluded = [], [], []
    for row in rows:
        value = {"emotion": row.get("emotion"), "sentiment": row.get("sentiment"),
                 "joint": f"{row.get('emotion')}_{row.get('sentiment')}"}[kind]
        if value in classes:
            labels.append(classes.index(value))
            folds.append(SPLITS[row["split"]][2])
            excluded.append(None)
        else:
            labels.append(None)
            folds.append(None)
            excluded.append(f"emotion x sentiment pair not among the {len(JOINT)} joint classes")
    return Labelling(tuple(classes), labels, folds, excluded, f"{kind} labels, official train/dev/test splits",
                     {"by": "official MELD splits (dev -> valid)"})


def describe(path: Path, config):
    return media.describe(sys.modules[__name__], path, config)


def load_segments(corpus, config, progress: bool):
    return media.load_segments(sys.modules[__name__], corpus, config, progress)
