"""Every fold protocol: the standard train/valid/test folds of CMU-MOSEI and CMU-MOSI, the Williams et al.
(2018) re-split, and the protocols of corpora without standard folds (actor/speaker blocks, stratified).

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
from typing import Mapping, Sequence

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


# ----------------------------------------------------------------------------------------------
# Fold protocols of corpora without standard folds (raw media: actor / speaker blocks, stratified)
# ----------------------------------------------------------------------------------------------


def actor_folds(rows: Sequence[Mapping[str, str]], labels: Sequence[int | None], config,
                actor_name=lambda actor: actor) -> tuple[list[str | None], dict]:
    """Speaker-independent folds by actor blocks (:func:`group_folds` over the labelled rows' ``actor``
    codes, by number); the protocol names the actors with ``actor_name``. Needs at least one labelled row."""
    actors = [row["actor"] for row, y in zip(rows, labels) if y is not None]
    assignment, protocol = group_folds(actors, int(config.num_folds), int(config.fold), what="actor", key=int)
    for key in ("test", "valid"):
        protocol[key] = [actor_name(a) for a in protocol[key]]
    protocol["blocks"] = [[actor_name(a) for a in block] for block in protocol["blocks"]]
    return [assignment[row["actor"]] if y is not None else None for row, y in zip(rows, labels)], protocol


def group_folds(groups: Sequence[str], num_folds: int, fold: int, *, what: str,
                key=None) -> tuple[dict[str, str], dict]:
    """Group-independent folds: the sorted groups are cut into ``num_folds`` contiguous blocks; block
    ``fold`` is the test set, block ``fold + 1`` (mod k) validation, the rest training. No group is ever
    in two folds. Returns ``{group: fold name}`` and the protocol (groups per block) for the log."""
    unique = sorted(set(groups), key=key)
    if num_folds < 3:
        raise MmerError(f"--num_folds {num_folds}: need at least 3 (train, valid and test {what}s)")
    if len(unique) < num_folds:
        raise MmerError(f"--num_folds {num_folds}: only {len(unique)} {what}s ({', '.join(unique)}); "
                        f"use --num_folds {len(unique)} or fewer")
    if not 0 <= fold < num_folds:
        raise MmerError(f"--fold {fold}: must be in 0..{num_folds - 1} (--num_folds {num_folds})")
    blocks = [list(b) for b in np.array_split(np.asarray(unique, dtype=object), num_folds)]
    valid = (fold + 1) % num_folds
    assignment = {}
    for b, members in enumerate(blocks):
        name = "test" if b == fold else "valid" if b == valid else "train"
        for g in members:
            assignment[g] = name
    protocol = {
        "by": what, "num_folds": num_folds, "fold": fold,
        "blocks": [[str(g) for g in b] for b in blocks],
        "test": [str(g) for g in blocks[fold]], "valid": [str(g) for g in blocks[valid]],
    }
    return assignment, protocol


def stratified_folds(labels: Sequence[int], num_folds: int, fold: int, seed: int) -> tuple[list[str], dict]:
    """Seeded stratified k-fold over clips (no group information): per class, shuffled clips are dealt
    round-robin into ``num_folds`` blocks; block ``fold`` tests, ``fold + 1`` validates."""
    if num_folds < 3:
        raise MmerError(f"--num_folds {num_folds}: need at least 3 (train, valid and test)")
    if not 0 <= fold < num_folds:
        raise MmerError(f"--fold {fold}: must be in 0..{num_folds - 1} (--num_folds {num_folds})")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    block = np.zeros(len(labels), dtype=np.int64)
    offset = 0
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        block[members] = (np.arange(len(members)) + offset) % num_folds
        offset += len(members)  # keeps block sizes even across classes
    valid = (fold + 1) % num_folds
    names = ["test" if b == fold else "valid" if b == valid else "train" for b in block]
    return names, {"by": "clip (stratified, seeded)", "num_folds": num_folds, "fold": fold, "seed": seed}
