"""MMSA feature pickles (``aligned_50.pkl`` / ``unaligned_50.pkl`` of CMU-MOSI and CMU-MOSEI) as a corpus.

Layout (thuiar/MMSA ``data_loader.py`` and README): ``data[split]`` for split ``train``/``valid``/``test``
holds ``text`` ``[N, T, D_t]`` (GloVe 300 in the CMU-era files, BERT 768 in MMSA's own), ``text_bert``
(token ids, ``[N, 3, T]``; not used), ``audio`` ``[N, T_a, D_a]``, ``vision`` ``[N, T_v, D_v]``, ``raw_text``,
``id``, ``regression_labels`` (the sentiment score in [-3, 3]), ``classification_labels``, and in the
unaligned files ``audio_lengths`` / ``vision_lengths``.

How the arrays become our variable-length segments:

* aligned file (every modality has the same ``T`` and the name does not start with ``unaligned``;
  MMSA's ``need_data_aligned``): one shared length per
  segment, the steps that are not padding in every modality (padding = an all-zero step, on the side the
  file pads, see :mod:`~mmer_tf.data.corpora.padded`); ``aligned=True``.
* unaligned file: audio/vision keep their stored ``*_lengths`` steps (MMSA's loaders take the first
  ``length`` steps; a file padded at the front is recognised and cut there), text its non-padding steps;
  ``aligned=False`` (MulT's unaligned view).
* ``-inf`` (COVAREP, left in by MMSA) stays in the values: the pipeline's sanitising sets it to 0 as MMSA
  does. Labels: ``("sentiment",)`` = ``regression_labels``. ``info["fold"]`` is the file's own split.

Segments whose every step is padding are dropped and counted. Anything structurally wrong (missing split
or key, wrong rank, counts that disagree, a label outside [-3, 3] or not finite, a split left empty) is a
one-line :class:`~mmer_tf.errors.MmerError` naming the file, split and problem; nothing is returned.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from mmer_tf.data import safe_pickle
from mmer_tf.data.corpora import padded
from mmer_tf.data.corpora.base import CorpusInfo
from mmer_tf.data.segments import MODALITIES, SegmentSet
from mmer_tf.errors import MmerError

log = logging.getLogger(__name__)

NAME = "mmsa"
LABEL_NAMES = ("sentiment",)
LABEL_KEY = "regression_labels"
#: CH-SIMS / CH-SIMS v2 also label each modality alone; kept as extra label columns when the file has them
UNIMODAL_KEYS = {"sentiment_A": "regression_labels_A", "sentiment_V": "regression_labels_V",
                 "sentiment_T": "regression_labels_T"}
PICKLE_SUFFIXES = (".pkl", ".pickle")
_MMSA_NAME = re.compile(r"^(un)?aligned_\d+\.pkl$", re.IGNORECASE)
ADAPTER_VERSION = 1


def detect(path: Path) -> bool:
    path = Path(path)
    if not path.is_file() or path.suffix.lower() not in PICKLE_SUFFIXES:
        return False
    if _MMSA_NAME.match(path.name):
        return True
    return LABEL_KEY.encode() in padded.find_markers(path, (LABEL_KEY.encode(),))


def label_names(path: Path) -> tuple[str, ...]:
    """``sentiment``, plus CH-SIMS's unimodal ``sentiment_A/V/T`` when the file has every one of them."""
    path = Path(path)
    if not path.is_file():
        return LABEL_NAMES
    markers = padded.find_markers(path, tuple(k.encode() for k in UNIMODAL_KEYS.values()))
    return LABEL_NAMES + (tuple(UNIMODAL_KEYS) if len(markers) == len(UNIMODAL_KEYS) else ())


def describe(path: Path, config) -> CorpusInfo:
    return padded.describe_pickle(path, NAME, label_names(path), ADAPTER_VERSION, "MMSA",
                                  "aligned_50.pkl / unaligned_50.pkl")


def load_segments(corpus: CorpusInfo, config, progress: bool) -> tuple[SegmentSet, dict]:
    path = Path(corpus.path)
    data = safe_pickle.load(path)
    splits = padded.split_dicts(data, path)
    return convert(splits, path, progress, names=tuple(corpus.label_names))


def convert(splits: dict[str, dict], path: Path, progress: bool = False,
            names: tuple[str, ...] = LABEL_NAMES) -> tuple[SegmentSet, dict]:
    """The split dicts (consumed: their arrays are released as they are converted) -> one SegmentSet
    with the label columns ``names`` (``sentiment`` and any of ``UNIMODAL_KEYS``)."""
    same_steps = padded.validate_splits(splits, path, LABEL_KEY, MODALITIES)
    # MMSA's need_data_aligned pairs with the file: aligned_* files share one T; unaligned_* keep their own.
    aligned = same_steps and not path.name.lower().startswith("unaligned")


    def measure(split, ids, fold, drop):
        lengths, side = _lengths(split, aligned, path, fold)
        keep = np.ones(len(ids), dtype=bool)
        for m in MODALITIES:
            empty = np.flatnonzero((lengths[m] == 0) & keep)
            drop("segments that are all padding" if aligned else f"segments with no {m} steps",
                 [ids[i] for i in empty])
            keep[empty] = False
        return lengths, side, keep

    extra = {name: UNIMODAL_KEYS[name] for name in names if name in UNIMODAL_KEYS}
    return padded.assemble(splits, path, LABEL_KEY, aligned, measure, label_names=LABEL_NAMES + tuple(extra),
                           extra_labels=extra, no_segments_left="every one is all padding")


def _lengths(split: dict, aligned: bool, path: Path, fold: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Real steps per segment and modality, and the side each modality is padded on."""
    if aligned:
        pad = None
        for m in MODALITIES:
            rows = padded.zero_rows(split[m])
            pad = rows if pad is None else pad & rows
        side = padded.padding_side(pad)
        shared = padded.run_lengths(pad, side)
        return {m: shared for m in MODALITIES}, {m: side for m in MODALITIES}
    lengths, sides = {}, {}
    text_pad = padded.zero_rows(split["text"])
    sides["text"] = padded.padding_side(text_pad)
    lengths["text"] = padded.run_lengths(text_pad, sides["text"])
    for m in ("audio", "vision"):
        key = f"{m}_lengths"
        block = split[m]
        if key not in split:
            raise MmerError(
                f"{path}: split {fold!r}: modalities have different lengths (unaligned file) but {key!r} is missing"
            )
        lengths[m] = padded.check_lengths(split[key], block.shape[0], block.shape[1], f"{path}: split {fold!r} {key}")
        sides[m] = padded.padding_side(padded.zero_rows(block), lengths[m])
    return lengths, sides
