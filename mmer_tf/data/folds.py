"""Standard train/valid/test folds of CMU-MOSEI and CMU-MOSI, and the Williams et al. (2018) re-split.

The standard folds are the video-id lists the CMU Multimodal SDK ships as Python lists
(``mmsdk/mmdatasdk/dataset/standard_datasets/CMU_MOSEI/cmu_mosei_std_folds.py`` and CMU_MOSI's). They
are facts, so they live here as JSON data (``fold_ids/mosei.json``, ``fold_ids/mosi.json``, extracted
verbatim, list order kept) rather than as code.

The custom split (the seed's ``-c`` / ``--with_custom_split``) reproduces what Williams et al. (2018)
did while the challenge's test labels were withheld: only the standard *train* and *valid* videos are
used, and they are re-split so that a test set exists. Exactly, on the SDK's list order:

1. the standard valid list is cut in half: the first ``len(valid) // 2`` videos stay in valid, the rest go
   to test (their code's ``valid[half + 1:]`` silently dropped the middle video; we keep it);
2. the last 5 % (``int(0.05 * len(train))``) of the standard train list go to test;
3. of the train videos left, the last 10 % (``int(0.1 * len(left))``) go to valid.

The split is a fixed function of the two id lists (not of which videos a folder happens to hold), so it
is the same for every run and every copy of the corpus. The standard test videos are not used.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from mmer_tf.data.segments import FOLDS, SegmentSet
from mmer_tf.errors import MmerError

log = logging.getLogger(__name__)

FOLD_ID_DIR = Path(__file__).resolve().parent / "fold_ids"
CORPORA = ("mosei", "mosi")


@lru_cache(maxsize=None)
def _load_fold_file(corpus: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    if corpus not in CORPORA:
        raise MmerError(f"corpus {corpus!r}: no standard folds (known: {', '.join(CORPORA)})")
    path = FOLD_ID_DIR / f"{corpus}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MmerError(f"{path}: fold id list unreadable ({exc})") from None
    return tuple(data["train"]), tuple(data["valid"]), tuple(data["test"])


def standard_folds(corpus: str = "mosei") -> dict[str, list[str]]:
    """The SDK's standard ``{"train", "valid", "test"}`` video-id lists, in the SDK's order."""
    return {name: list(ids) for name, ids in zip(FOLDS, _load_fold_file(corpus))}


def custom_split_folds(corpus: str = "mosei") -> dict[str, list[str]]:
    """Williams et al. (2018)'s re-split of the standard train+valid videos (see the module docstring)."""
    standard = standard_folds(corpus)
    train, valid = standard["train"], standard["valid"]
    half = len(valid) // 2
    new_valid, new_test = valid[:half], valid[half:]
    five_percent = int(len(train) * 0.05)
    left, to_test = train[: len(train) - five_percent], train[len(train) - five_percent :]
    ten_percent = int(len(left) * 0.1)
    new_train, to_valid = left[: len(left) - ten_percent], left[len(left) - ten_percent :]
    return {"train": new_train, "valid": new_valid + to_valid, "test": new_test + to_test}


def fold_video_ids(corpus: str = "mosei", custom_split: bool = False) -> dict[str, list[str]]:
    """The fold lists a run uses: standard, or the custom re-split."""
    return custom_split_folds(corpus) if custom_split else standard_folds(corpus)


def split_folds(
    segments: SegmentSet, corpus: str = "mosei", custom_split: bool = False
) -> dict[str, SegmentSet]:
    """Split ``segments`` into ``{"train", "valid", "test"}`` by the video id of each segment.

    Segments whose video is in no fold are dropped and reported: a warning is logged, and every fold's
    ``info["split"]`` holds ``{"corpus", "custom_split", "dropped_segments", "dropped_videos",
    "dropped_video_ids" (first 20), "videos": {fold: n}}``. Segments keep their order within a fold.
    """
    folds = fold_video_ids(corpus, custom_split)
    fold_of_video = {vid: index for index, name in enumerate(FOLDS) for vid in folds[name]}
    videos = segments.video_ids()
    assignment = np.fromiter(
        (fold_of_video.get(v, -1) for v in videos), dtype=np.int64, count=len(videos)
    )
    result = {
        name: segments.subset(np.flatnonzero(assignment == index)) for index, name in enumerate(FOLDS)
    }
    dropped = sorted({v for v, a in zip(videos, assignment) if a < 0})
    report = {
        "corpus": corpus,
        "custom_split": bool(custom_split),
        "dropped_segments": int(np.count_nonzero(assignment < 0)),
        "dropped_videos": len(dropped),
        "dropped_video_ids": dropped[:20],
        "videos": {
            name: len({v for v, a in zip(videos, assignment) if a == index})
            for index, name in enumerate(FOLDS)
        },
    }
    for fold in result.values():
        fold.info["split"] = report
    if dropped:
        log.warning(
            "%d segments of %d videos are in no %s fold of %s and were dropped (e.g. %s)",
            report["dropped_segments"], len(dropped), "custom" if custom_split else "standard",
            corpus, ", ".join(dropped[:3]),
        )
    return result
