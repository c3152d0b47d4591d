"""A raw-media corpus in one module, registered the documented way (``MMER_PLUGINS``): ``TONES.txt`` lists
``<file.wav> <label> <split>`` lines; the clips are WAV files beside it (``tests/test_extension_points.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

from mmer_tf.data.corpora import media
from mmer_tf.data.corpora.media import ClipRecord, Labelling, Scan
from mmer_tf.errors import MmerError

NAME = "tones"
TITLE = "tone folder"
LAYOUT = "FOLDER/TONES.txt with lines '<file.wav> <label> <train|valid|test>'"
LIST = "TONES.txt"


def detect(path: Path) -> bool:
    return media.is_featurized(path, NAME) or (Path(path) / LIST).is_file()


def scan(path: Path) -> Scan:
    result = Scan(records=[], extra_files=[Path(path) / LIST])
    for line in (Path(path) / LIST).read_text(encoding="utf-8").splitlines():
        name, label, split = line.split()
        result.records.append(ClipRecord(id=Path(name).stem, media=Path(path) / name, text=None,
                                         meta={"label": label, "split": split}))
    return result


def params(config) -> dict:
    return {}


def label(rows, config) -> Labelling:
    classes = tuple(sorted({row["label"] for row in rows}))
    if len(classes) < 2:
        raise MmerError(f"{LIST}: need two labels")
    return Labelling(classes, [classes.index(row["label"]) for row in rows], [row["split"] for row in rows],
                     [None] * len(rows), "split from TONES.txt")


def describe(path: Path, config):
    return media.describe(sys.modules[__name__], path, config)


def load_segments(corpus, config, progress: bool):
    return media.load_segments(sys.modules[__name__], corpus, config, progress)
