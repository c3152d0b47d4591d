"""The corpus-agnostic unit everything downstream of the adapters works on.

A :class:`SegmentSet` is one fold: N labelled segments, each with a ``[T_i, D_m]`` float32 array per
modality. Modalities are named ``text``, ``audio``, ``vision`` (see :data:`MODALITIES`). In the
word-aligned view every modality of a segment has the same ``T_i``; in the unaligned view (each modality
at its own rate, aligned only to the label segment) lengths differ per modality.

Labels are ``[N, L]`` float32, one column per name in ``info["label_names"]`` (the adapter declares them;
tasks find their columns by name): CMU-MOSEI's seven (:data:`LABEL_NAMES`: sentiment, then the presence
scores of happy, sad, anger, surprise, disgust, fear), ``("sentiment",)``, ``("category",)`` with
``info["classes"]``, or any other set a task reads.

A corpus labelled per frame (C-EXPR-DB) also sets ``frame_labels``: per segment (a whole video) a
``[T_i, L]`` float32 array with the same columns as ``labels``, one row per step of its (aligned)
modalities, NaN where a frame has no label (the ABAW ``-1``). ``labels`` then holds the video's label.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MODALITIES = ("text", "audio", "vision")
EMOTIONS = ("happy", "sad", "anger", "surprise", "disgust", "fear")
LABEL_NAMES = ("sentiment",) + EMOTIONS
FOLDS = ("train", "valid", "test")


@dataclass
class SegmentSet:
    """One fold of segments: ids, per-modality sequences, and labels (rows aligned by index)."""

    ids: list[str]
    features: dict[str, list[np.ndarray]]
    labels: np.ndarray
    aligned: bool = True
    info: dict = field(default_factory=dict)
    frame_labels: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels, dtype=np.float32)
        width = labels.shape[-1] if labels.ndim > 1 else len(LABEL_NAMES)
        self.labels = labels.reshape(len(self.ids), width)
        for name, seqs in self.features.items():
            if len(seqs) != len(self.ids):
                raise ValueError(f"modality {name!r} has {len(seqs)} segments, expected {len(self.ids)}")
        if self.frame_labels is not None and len(self.frame_labels) != len(self.ids):
            raise ValueError(f"frame_labels has {len(self.frame_labels)} segments, expected {len(self.ids)}")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.features) + tuple(
            m for m in self.features if m not in MODALITIES
        )

    def dims(self) -> dict[str, int]:
        """Feature dimension per modality."""
        return {m: int(self.features[m][0].shape[-1]) if len(self) else 0 for m in self.modalities}

    def lengths(self, modality: str) -> np.ndarray:
        return np.fromiter((len(x) for x in self.features[modality]), dtype=np.int64, count=len(self))

    def video_ids(self) -> list[str]:
        """Video id of each segment (``'vid[3]'`` -> ``'vid'``)."""
        return [segment_video_id(s) for s in self.ids]

    def subset(self, index) -> "SegmentSet":
        index = np.asarray(index, dtype=np.int64)
        return SegmentSet(
            ids=[self.ids[i] for i in index],
            features={m: [seqs[i] for i in index] for m, seqs in self.features.items()},
            labels=self.labels[index],
            aligned=self.aligned,
            info=dict(self.info),
            frame_labels=None if self.frame_labels is None else [self.frame_labels[i] for i in index],
        )

    def select_modalities(self, modalities) -> "SegmentSet":
        missing = [m for m in modalities if m not in self.features]
        if missing:
            raise ValueError(f"modalities {missing} not in this set (has {list(self.modalities)})")
        return SegmentSet(
            ids=list(self.ids),
            features={m: self.features[m] for m in modalities},
            labels=self.labels,
            aligned=self.aligned,
            info=dict(self.info),
            frame_labels=self.frame_labels,
        )


def segment_video_id(segment_id: str) -> str:
    """``'abc[3]'`` -> ``'abc'`` (the SDK's convention for entries derived from a video)."""
    cut = segment_id.find("[")
    return segment_id if cut < 0 else segment_id[:cut]
