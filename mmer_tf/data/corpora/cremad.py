"""CREMA-D from its release: ``AudioWAV/*.wav`` and ``VideoFlash/*.flv`` -> category segments, actor folds.

Layout (as the CheyneyComputerScience/CREMA-D repository ships it): ``AudioWAV/`` and/or ``VideoFlash/``
(anywhere up to two levels under ``-df``), each file named ``ActorID_Sentence_Emotion_Level``:
actor 1001-1091, one of the 12 sentences by its code (``DFA`` = "Don't forget a jacket", ...),
emotion ``ANG DIS FEA HAP NEU SAD``, level ``LO MD HI XX`` (``XX``: unspecified). One recording is in both
folders: the ``.flv`` (picture and sound) is used when present, else the ``.wav``; the other copy is
passed over and counted. The transcript is the sentence, identical across emotions by design.

Labels: the 6 emotions (``anger disgust fear happy neutral sad``), or a subset with ``--emotions``.
Protocol (actor-independent, never an actor in two folds): the actors present are sorted by number and
cut into ``--num_folds`` contiguous blocks; block ``--fold K`` tests, block ``K+1`` (mod k) validates,
the rest trains (as RAVDESS's actor blocks). The blocks are logged and kept in the load summary.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from mmer_tf.data.corpora import layout, media
from mmer_tf.data.corpora.media import ClipRecord, Labelling, Scan
from mmer_tf.errors import MmerError

NAME = "cremad"
TITLE = "CREMA-D"
LAYOUT = "AudioWAV/ActorID_Sentence_Emotion_Level.wav and/or VideoFlash/<same>.flv"

SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened", "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about", "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold", "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment", "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before", "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
EMOTION_CODES = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
EMOTIONS = tuple(sorted(EMOTION_CODES.values()))
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
FOLDERS = {"VideoFlash": ".flv", "AudioWAV": ".wav"}  # in order of preference
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


def parse_name(stem: str) -> dict[str, str]:
    """The four fields of a CREMA-D file name; ``MmerError`` if it is not one."""
    match = _NAME.match(stem)
    if not match:
        raise MmerError(f"{stem}: not a CREMA-D file name (ActorID_Sentence_Emotion_Level, e.g. 1001_DFA_ANG_XX)")
    actor, sentence, emotion, level = match.groups()
    problems = [f"{what} {code}" for what, code, known in (("sentence", sentence, SENTENCES),
                                                           ("emotion", emotion, EMOTION_CODES),
                                                           ("level", level, LEVELS)) if code not in known]
    if problems:
        raise MmerError(f"{stem}: CREMA-D code(s) unknown: {', '.join(problems)}")
    return {"actor": actor, "sentence": sentence, "emotion": EMOTION_CODES[emotion], "level": LEVELS[level],
            "speaker": actor}


def media_dirs(path: Path, depth: int = 3) -> dict[str, list[Path]]:
    """``{"VideoFlash": [...], "AudioWAV": [...]}`` at ``path`` or up to ``depth`` levels below."""
    found: dict[str, list[Path]] = {name: [] for name in FOLDERS}
    for folder in layout.find_dirs(path, lambda name: name in FOLDERS, depth):
        found[folder.name].append(folder)
    return found


def detect(path: Path) -> bool:
    if media.is_featurized(path):
        return media.is_featurized(path, NAME)
    for name, dirs in media_dirs(path).items():
        for folder in dirs[:2]:
            with os.scandir(folder) as entries:
                for entry in entries:
                    stem, suffix = os.path.splitext(entry.name)
                    if suffix.lower() == FOLDERS[name] and _NAME.match(stem):
                        return True
    return False


def scan(path: Path) -> Scan:
    result = Scan(records=[])
    chosen: dict[str, tuple[Path, dict]] = {}
    for name, suffix in FOLDERS.items():  # VideoFlash first: its copy wins
        for folder in media_dirs(path)[name]:
            for file, fields in layout.named_files(folder, (suffix,), parse_name, result, "CREMA-D"):
                if file.stem in chosen:
                    result.skip("second copy of a recording", f"{name}/{file.name}")
                    continue
                chosen[file.stem] = (file, fields)
    for stem, (file, fields) in sorted(chosen.items()):
        result.records.append(ClipRecord(id=stem, media=file, text=SENTENCES[fields["sentence"]], meta=fields))
    return result


def selected_emotions(config) -> tuple[str, ...]:
    return media.selected_emotions(config, EMOTIONS, TITLE)


def params(config) -> dict:
    return {"emotions": list(selected_emotions(config)), "fold": int(config.fold), "num_folds": int(config.num_folds)}


def label(rows, config) -> Labelling:
    """Classes = the selected emotions (sorted; without ``--emotions``, those present); folds by actor blocks."""
    return media.actor_emotion_labelling(rows, config, selected_emotions(config))


def describe(path: Path, config):
    return media.describe(sys.modules[__name__], path, config)


def load_segments(corpus, config, progress: bool):
    return media.load_segments(sys.modules[__name__], corpus, config, progress)
