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
Labels are checked here, once, so training targets and metrics see the same truth: NaN and ±inf label
values become 0 (the seed's ``nan_to_num`` for NaN; the seed turned inf into ±3.4e38), counted in the
summary's ``cleaned`` and logged; a score outside its scale (sentiment [-3, 3], emotions [0, 3]) or a
label sequence of the wrong width is refused with one line naming the file (and the video).
Features are float32 as stored; NaN/inf are left in (sanitising is the pipeline's job).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from mmer_tf.data.align import AlignReport, Stage, align_stream, format_drop_summary
from mmer_tf.formats.csd import CsdReader, list_csd_files
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
LABEL_WIDTHS = {7: "CMU-MOSEI", 1: "CMU-MOSI"}  # label sequence columns -> corpus
SCORE_RANGES = ((-3.0, 3.0),) + ((0.0, 3.0),) * 6  # sentiment, then the six emotions
_TOLERANCE = 1e-4  # scores are means of integer ratings; allow float rounding at the bounds
CLEANED_LABELS = "segments (NaN or inf label values set to 0)"

log = logging.getLogger(__name__)


def find_sequences(folder: str | Path, roles) -> dict[str, Path]:
    """``{role: path}`` for the wanted roles, matched by root name first, then by standard file name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MmerError(f"{folder}: dataset folder not found")
    files = list_csd_files(folder)
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
        width = readers["labels"].dim
        if width not in LABEL_WIDTHS:
            raise MmerError(
                f"{paths['labels']}: label sequence '{names['labels']}' has {width} columns, expected 7 "
                f"(CMU-MOSEI: sentiment and six emotions) or 1 (CMU-MOSI: sentiment)"
            )
        sources = {names[role]: readers[role] for role in readers}
        if align_to_text:
            stages = [Stage(names["text"], "mean", impute=True), Stage(names["labels"])]
        else:
            stages = [Stage(names["labels"])]
        report = AlignReport()
        modality_of = {names["text"]: "text", names["audio"]: "audio", names[image_feature]: "vision"}
        segments = _collect(align_stream(sources, stages, report=report, progress=progress),
                            modality_of, names["labels"], align_to_text, report, paths["labels"])
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
    if len(segments) == 0:
        lines = format_drop_summary(summary)
        raise MmerError(f"{folder}: no segment survived alignment"
                        + (f": {'; '.join(lines)}" if lines else " (no labelled video has every modality)"))
    return segments, summary


def _collect(stream, modality_of, labels_name, aligned, report, labels_path) -> SegmentSet:
    ids: list[str] = []
    features: dict[str, list[np.ndarray]] = {m: [] for m in modality_of.values()}
    labels: list[np.ndarray] = []
    for video, entries in stream:
        label_entries = entries[labels_name]
        keep = np.ones(len(label_entries), dtype=bool)
        per_modality = {}
        for name, modality in modality_of.items():
            seq = entries[name]
            per_modality[modality] = seq
        if aligned:
            lengths = np.stack([seq.lengths() for seq in per_modality.values()])
            keep = np.all(lengths == lengths[0], axis=0)
            if not keep.all():
                report.note("segments", "modality lengths differ",
                            [k for k, kept in zip(label_entries.keys, keep) if not kept])
        for modality, seq in per_modality.items():
            rows = np.split(seq.features, seq.offsets[1:-1])
            features[modality].extend(r.astype(np.float32, copy=False) for r, k in zip(rows, keep) if k)
        ids.extend(k for k, kept in zip(label_entries.keys, keep) if kept)
        rows = _label_rows(label_entries.features, label_entries.offsets)[keep]
        kept_ids = [k for k, kept in zip(label_entries.keys, keep) if kept]
        width = int(np.prod(label_entries.features.shape[1:]))
        labels.append(_checked_labels(rows, width, kept_ids, video, labels_path, report))
    cleaned = report.cleaned.get(CLEANED_LABELS, 0)
    if cleaned:
        log.warning("%s: %d segments had NaN or inf label values, set to 0 (as the original's nan_to_num)",
                    labels_path, cleaned)
    label_array = np.concatenate(labels) if labels else np.zeros((0, len(LABEL_NAMES)), np.float32)
    return SegmentSet(ids=ids, features=features, labels=label_array, aligned=aligned)


def _checked_labels(rows: np.ndarray, width: int, ids: list[str], video: str, path, report: AlignReport) -> np.ndarray:
    """Clean NaN/inf label values to 0 (counted) and refuse scores off their scale.

    Only the columns the file has are checked: CMU-MOSI's padded emotion columns stay NaN (absent).
    """
    real = rows[:, :width]
    bad = ~np.isfinite(real)
    if bad.any():
        hit = np.any(bad, axis=1)
        report.note("cleaned", CLEANED_LABELS, [i for i, h in zip(ids, hit) if h])
        rows = rows.copy()
        rows[:, :width] = np.where(bad, 0.0, real)
    for column, (low, high) in enumerate(SCORE_RANGES[:width]):
        values = rows[:, column]
        off = np.flatnonzero((values < low - _TOLERANCE) | (values > high + _TOLERANCE))
        if off.size:
            i = int(off[0])
            raise MmerError(
                f"{path}: video '{video}' segment '{ids[i]}': {LABEL_NAMES[column]} score {values[i]:g} is not in "
                f"[{low:g}, {high:g}] ({off.size} such segments in this video); fix the labels file"
            )
    return rows


def _label_rows(features: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """One ``[7]`` label row per segment (the segment's first label row), MOSI padded with NaN."""
    rows = features[offsets[:-1]].reshape(len(offsets) - 1, -1).astype(np.float32)
    width = len(LABEL_NAMES)
    if rows.shape[1] > width:
        raise MmerError(f"label sequence has {rows.shape[1]} columns, expected at most {width}")
    if rows.shape[1] < width:
        rows = np.concatenate([rows, np.full((len(rows), width - rows.shape[1]), np.nan, np.float32)], axis=1)
    return rows
