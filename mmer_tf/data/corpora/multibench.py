"""MultiBench affect pickles (``mosi_raw.pkl``, ``mosei_senti_data.pkl``, ...) as a corpus.

Layout (pliang279/MultiBench ``datasets/affect/get_data.py``): ``data[split]`` for ``train``/``valid``/
``test`` holds ``vision`` ``[N, T_v, D_v]``, ``audio`` ``[N, T_a, D_a]``, ``text`` ``[N, T_t, D_t]`` (GloVe),
``labels`` (the sentiment score, ``[N, 1]`` or ``[N, 1, 1]``) and usually ``id``. Sequences are zero-padded
at the FRONT. We read them as MultiBench's own loader does:

* a segment whose text is all zero is dropped (its ``drop_entry``), and counted;
* aligned file (one ``T`` for all modalities; MultiBench's default ``aligned=True``): every modality is
  cut from the segment's first non-zero text step, so the modalities keep one time axis (``aligned=True``);
* unaligned file: each modality is cut from its own first non-zero step (``aligned=False``, MulT's view);
  a segment with an all-zero audio or vision block is dropped and counted (MultiBench would crash there);
* ``-inf`` in audio is left for the pipeline's sanitising (MultiBench sets it to 0; so does the pipeline).

Labels: ``("sentiment",)``, which must be finite and in [-3, 3]; ``info["fold"]`` is the file's split.
Wrong keys/shapes, bad labels or an empty split: one line naming the file, split and problem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmer_tf.data import safe_pickle
from mmer_tf.data.corpora import mmsa, padded
from mmer_tf.data.corpora.base import CorpusInfo
from mmer_tf.data.segments import MODALITIES, SegmentSet

NAME = "multibench"
LABEL_NAMES = ("sentiment",)
LABEL_KEY = "labels"
ADAPTER_VERSION = 1


def detect(path: Path) -> bool:
    path = Path(path)
    if not path.is_file() or path.suffix.lower() not in mmsa.PICKLE_SUFFIXES or mmsa._MMSA_NAME.match(path.name):
        return False
    found = padded.find_markers(path, (mmsa.LABEL_KEY.encode(), b"vision", b"labels"))
    return mmsa.LABEL_KEY.encode() not in found and {b"vision", b"labels"} <= found


def describe(path: Path, config) -> CorpusInfo:
    return padded.describe_pickle(path, NAME, LABEL_NAMES, ADAPTER_VERSION, "MultiBench affect", "e.g. mosi_raw.pkl")


def load_segments(corpus: CorpusInfo, config, progress: bool) -> tuple[SegmentSet, dict]:
    path = Path(corpus.path)
    splits = padded.split_dicts(safe_pickle.load(path), path)
    return convert(splits, path)


def convert(splits: dict[str, dict], path: Path) -> tuple[SegmentSet, dict]:
    """The split dicts (consumed as they are converted) -> one SegmentSet and its load summary."""
    aligned = padded.validate_splits(splits, path, LABEL_KEY, MODALITIES)

    def measure(split, ids, fold, drop):
        # MultiBench pads at the front and cuts each sequence from its first non-zero text step.
        lengths = {m: padded.run_lengths(padded.zero_rows(split[m]), "front") for m in MODALITIES}
        keep = lengths["text"] > 0
        drop("segments with all-zero text", [ids[i] for i in np.flatnonzero(~keep)])
        if aligned:
            lengths = {m: lengths["text"] for m in MODALITIES}
        else:
            for m in ("audio", "vision"):
                empty = np.flatnonzero(keep & (lengths[m] == 0))
                drop(f"segments with all-zero {m}", [ids[i] for i in empty])
                keep[empty] = False
        return lengths, {m: "front" for m in MODALITIES}, keep

    return padded.assemble(splits, path, LABEL_KEY, aligned, measure, label_names=LABEL_NAMES,
                           no_segments_left="every one has all-zero text")
