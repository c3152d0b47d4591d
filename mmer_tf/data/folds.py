"""Standard train/valid/test folds of CMU-MOSEI and CMU-MOSI, and the Williams et al. (2018) re-split.

The standard folds are the video-id lists the CMU Multimodal SDK ships as Python lists
(``mmsdk/mmdatasdk/dataset/standard_datasets/CMU_MOSEI/cmu_mosei_std_folds.py`` and CMU_MOSI's). They
are facts, so they live here as JSON data (``fold_ids/mosei.json``, ``fold_ids/mosi.json``, extracted
verbatim, list order kept) rather than as code.

The custom split (``-c`` / ``--with_custom_split``) re-splits the standard folds the way the original
suite (helenetran3/MER-experiments, ``src/dataset_utils.py``, ``perform_custom_split``) did, after
Williams et al. (2018). Two versions, chosen with ``--custom_split``:

``original`` (the default for ``-c``): the original's split, exactly, quirks included. On the SDK's list
order, with ``T``/``V``/``S`` the standard train/valid/test lists, ``half = len(V) // 2``,
``five = int(0.05 * len(T))``, ``left = T[:-five]``, ``ten = int(0.1 * len(left))``:

* train = ``left[:-ten]``
* valid = ``V[:half]`` + the last ``ten`` videos *of that new train list* (``left[-2*ten:-ten]``)
* test  = ``V[half + 1:]`` + ``T[-five:]`` + the whole of ``S``

Its quirks: (1) the ``ten`` videos added to valid are also in train (213 videos on CMU-MOSEI; the
same bug is in Williams et al.'s script). A segment goes to the first fold listing its video, train
first (the original's ``if vid in train ... elif vid in valid``), so those videos train and valid
gets only ``V[:half]``; (2) the ``ten`` videos actually cut from train (``left[-ten:]``) are in no
fold and dropped; (3) the middle valid video ``V[half]`` is in no fold. Python's ``x[:-0]`` being
empty is kept too (a ``five`` or ``ten`` of 0 empties the list, as there).

``corrected``: the same design with the bugs fixed: train = ``left[:-ten]``, valid = ``V[:half]`` +
``left[-ten:]``, test = ``V[half:]`` + ``T[-five:]`` + ``S``. Every video of the standard folds is in
exactly one fold.

Both are fixed functions of the id lists (not of which videos a folder holds), so they are the same
for every run and every copy of the corpus.
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


CUSTOM_SPLITS = ("original", "corrected")


def _without_last(ids: list[str], k: int) -> list[str]:
    """``ids[:-k]`` with Python's meaning, so ``k == 0`` gives ``[]`` as it did in the original."""
    return ids[:-k]


def _last(ids: list[str], k: int) -> list[str]:
    """``ids[-k:]`` with Python's meaning (``k == 0`` gives the whole list, as in the original)."""
    return ids[-k:]


def custom_split_folds(corpus: str = "mosei", kind: str = "original") -> dict[str, list[str]]:
    """The ``-c`` re-split of the standard folds, ``original`` or ``corrected`` (module docstring)."""
    if kind not in CUSTOM_SPLITS:
        raise MmerError(f"--custom_split {kind!r}: choose one of {', '.join(CUSTOM_SPLITS)}")
    standard = standard_folds(corpus)
    train, valid, test = standard["train"], standard["valid"], standard["test"]
    half = len(valid) // 2
    five = int(len(train) * 0.05)
    left = _without_last(train, five)
    ten = int(len(left) * 0.1)
    new_train = _without_last(left, ten)
    if kind == "original":
        return {"train": new_train,
                "valid": valid[:half] + _last(new_train, ten),
                "test": valid[half + 1:] + _last(train, five) + test}
    return {"train": new_train,
            "valid": valid[:half] + left[len(new_train):],
            "test": valid[half:] + train[len(left):] + test}


def _custom_kind(custom_split: bool | str | None) -> str | None:
    """``False``/``None``/``""`` -> standard folds; ``True`` -> ``"original"``; else the named split."""
    if custom_split is None or custom_split is False or custom_split == "":
        return None
    return "original" if custom_split is True else str(custom_split)


def fold_video_ids(corpus: str = "mosei", custom_split: bool | str = False) -> dict[str, list[str]]:
    """The fold lists a run uses: standard, or a custom re-split (``True`` = ``"original"``).

    With the original custom split the lists overlap (module docstring); :func:`split_folds` gives an
    overlapping video to its first fold (train, then valid, then test), as the original did."""
    kind = _custom_kind(custom_split)
    return custom_split_folds(corpus, kind) if kind else standard_folds(corpus)


def split_folds(
    segments: SegmentSet, corpus: str = "mosei", custom_split: bool | str = False
) -> dict[str, SegmentSet]:
    """Split ``segments`` into ``{"train", "valid", "test"}`` by the video id of each segment.

    Segments whose video is in no fold are dropped and reported: a warning is logged, and every fold's
    ``info["split"]`` holds ``{"corpus", "custom_split" (False or the split's name), "overlapping_videos"
    (videos listed in two folds), "dropped_segments", "dropped_videos",
    "dropped_video_ids" (first 20), "videos": {fold: n}}``. Segments keep their order within a fold.
    """
    kind = _custom_kind(custom_split)
    folds = fold_video_ids(corpus, kind or False)
    fold_of_video: dict[str, int] = {}
    for index, name in enumerate(FOLDS):
        for vid in folds[name]:
            fold_of_video.setdefault(vid, index)  # first fold wins: the original's if/elif order
    listed = [set(folds[name]) for name in FOLDS]
    overlap = len((listed[0] & listed[1]) | (listed[0] & listed[2]) | (listed[1] & listed[2]))
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
        "custom_split": kind or False,
        "overlapping_videos": overlap,
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
            report["dropped_segments"], len(dropped), f"{kind} custom" if kind else "standard",
            corpus, ", ".join(dropped[:3]),
        )
    return result
