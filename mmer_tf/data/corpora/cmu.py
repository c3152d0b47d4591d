"""CMU-MOSEI / CMU-MOSI adapter: a folder of SDK computational sequences -> one :class:`SegmentSet`.

Sequences are found by their root group name (``glove_vectors``, ``COVAREP``, ``FACET 4.2`` /
``FACET_4.2``, ``OpenFace_2``, ``All Labels`` / ``Opinion Segment Labels``) or by the SDK's standard
file names, and aligned with :mod:`mmer_tf.data.align` (SDK semantics, one video in memory at a time):

* ``align_to_text=True`` (the seed's and the SDK examples' recipe): align everything to
  ``glove_vectors`` with a mean collapse, impute missing words with zeros, align to the labels, drop
  segments lacking a modality. Every modality then has one row per word. Where the SDK's clipping at a
  segment edge keeps a word in one modality but not another (a collapsed frame interval narrower than
  the word), the segment's modalities would not share one time axis; such segments are dropped and
  counted (``"modality lengths differ"``).
* ``align_to_text=False``: each modality aligned directly to the label segments, no collapse, each at
  its own rate (``aligned=False``).

Labels are the label sequence's row per segment: ``[N, 7]`` for CMU-MOSEI (sentiment, then the six
emotions). CMU-MOSI has sentiment only: column 0 holds it and the emotion columns are NaN.
Features are float32 as stored; NaN/inf are left in (sanitising is the pipeline's job).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from mmer_tf.data.align import AlignReport, Stage, align_stream
from mmer_tf.data.csd import CsdReader
from mmer_tf.data.segments import LABEL_NAMES, SegmentSet
from mmer_tf.errors import MmerError

# role -> (root names, standard file names), CMU-MOSEI first, then CMU-MOSI.
SEQUENCE_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "text": (("glove_vectors",), ("CMU_MOSEI_TimestampedWordVectors.csd", "CMU_MOSI_TimestampedWordVectors.csd")),
    "audio": (("COVAREP",), ("CMU_MOSEI_COVAREP.csd", "CMU_MOSI_COVAREP.csd")),
    "facet": (("FACET 4.2", "FACET_4.2"), ("CMU_MOSEI_VisualFacet42.csd", "CMU_MOSI_Visual_Facet_42.csd")),
    "openface": (("OpenFace_2",), ("CMU_MOSEI_VisualOpenFace2.csd", "CMU_MOSI_Visual_OpenFace_2.csd")),
    "labels": (("All Labels", "Opinion Segment Labels"), ("CMU_MOSEI_Labels.csd", "CMU_MOSI_Opinion_Labels.csd")),
}
IMAGE_FEATURES = ("facet", "openface")


def find_sequences(folder: str | Path, roles) -> dict[str, Path]:
    """``{role: path}`` for the wanted roles, matched by root name first, then by standard file name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MmerError(f"{folder}: dataset folder not found")
    files = sorted(p for p in folder.iterdir() if p.suffix == ".csd" and p.is_file())
    by_root: dict[str, Path] = {}
    for path in files:
        with CsdReader(path) as reader:
            by_root.setdefault(reader.name, path)
    by_file = {p.name: p for p in files}
    found = {}
    for role in roles:
        roots, names = SEQUENCE_NAMES[role]
        hit = next((by_root[r] for r in roots if r in by_root), None)
        hit = hit or next((by_file[n] for n in names if n in by_file), None)
        if hit is None:
            wanted = ", ".join([f"root '{r}'" for r in roots] + list(names))
            raise MmerError(f"{folder}: no {role} sequence (looked for {wanted})")
        found[role] = hit
    return found


def load_segments(folder, *, image_feature="facet", align_to_text=True, progress=True) -> tuple[SegmentSet, dict]:
    """Every labelled segment of every video in a CMU-MOSEI/MOSI folder, plus a summary.

    Returns ``(SegmentSet, summary)``: segment ids ``'<video>[k]'`` (the k-th label segment of the
    video), ``features`` ``{"text", "audio", "vision"}`` raw float32, ``labels`` ``[N, 7]``; the summary
    holds ``videos``, ``segments``, ``dropped_videos`` / ``dropped_segments`` (reason -> count) and the
    files used.
    """
    if image_feature not in IMAGE_FEATURES:
        raise MmerError(f"image_feature {image_feature!r}: unknown, expected one of {IMAGE_FEATURES}")
    paths = find_sequences(folder, ("text", "audio", image_feature, "labels"))
    readers = {role: CsdReader(path) for role, path in paths.items()}
    try:
        names = {role: reader.name for role, reader in readers.items()}
        if len(set(names.values())) != len(names):
            raise MmerError(f"{folder}: two sequences share a root name ({names})")
        sources = {names[role]: readers[role] for role in readers}
        if align_to_text:
            stages = [Stage(names["text"], "mean", impute=True), Stage(names["labels"])]
        else:
            stages = [Stage(names["labels"])]
        report = AlignReport()
        modality_of = {names["text"]: "text", names["audio"]: "audio", names[image_feature]: "vision"}
        segments = _collect(align_stream(sources, stages, report=report, progress=progress),
                            modality_of, names["labels"], align_to_text, report)
    finally:
        for reader in readers.values():
            reader.close()
    summary = report.as_dict()
    summary.update(
        segments=len(segments),
        videos=len(set(segments.video_ids())),
        aligned=align_to_text,
        image_feature=image_feature,
        files={role: str(path) for role, path in paths.items()},
    )
    segments.info.update(source="cmu", summary=summary)
    return segments, summary


def _collect(stream, modality_of, labels_name, aligned, report) -> SegmentSet:
    ids: list[str] = []
    features: dict[str, list[np.ndarray]] = {m: [] for m in modality_of.values()}
    labels: list[np.ndarray] = []
    mismatched = Counter()
    for _video, entries in stream:
        label_entries = entries[labels_name]
        keep = np.ones(len(label_entries), dtype=bool)
        per_modality = {}
        for name, modality in modality_of.items():
            seq = entries[name]
            per_modality[modality] = seq
        if aligned:
            lengths = np.stack([seq.lengths() for seq in per_modality.values()])
            keep = np.all(lengths == lengths[0], axis=0)
            mismatched["modality lengths differ"] += int((~keep).sum())
        for modality, seq in per_modality.items():
            rows = np.split(seq.features, seq.offsets[1:-1])
            features[modality].extend(r.astype(np.float32, copy=False) for r, k in zip(rows, keep) if k)
        ids.extend(k for k, kept in zip(label_entries.keys, keep) if kept)
        labels.append(_label_rows(label_entries.features, label_entries.offsets)[keep])
    for reason, count in mismatched.items():
        if count:
            report.dropped_entries[reason] += count
    label_array = np.concatenate(labels) if labels else np.zeros((0, len(LABEL_NAMES)), np.float32)
    return SegmentSet(ids=ids, features=features, labels=label_array, aligned=aligned)


def _label_rows(features: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """One ``[7]`` label row per segment (the segment's first label row), MOSI padded with NaN."""
    rows = features[offsets[:-1]].reshape(len(offsets) - 1, -1).astype(np.float32)
    width = len(LABEL_NAMES)
    if rows.shape[1] > width:
        raise MmerError(f"label sequence has {rows.shape[1]} columns, expected at most {width}")
    if rows.shape[1] < width:
        rows = np.concatenate([rows, np.full((len(rows), width - rows.shape[1]), np.nan, np.float32)], axis=1)
    return rows
