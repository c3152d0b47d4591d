"""Runs on a corpus labelled per frame: windows to train on, one prediction per frame, frame and video tables.

A corpus whose segments are whole videos with ``frame_labels`` (``[T, L]`` per video, NaN = no label;
see :class:`mmer_tf.data.segments.SegmentSet`) is trained and scored the way seed 002 (LFAN on C-EXPR-DB)
does it, for any task and any model that predicts every step:

- every fold is cut into windows (``--window_length`` / ``--hop_length``, :mod:`mmer_tf.data.windows`);
  the task turns each frame's label row into that step's target (``task.targets`` on the frames), and a
  step without a label gets weight 0, so Keras leaves it out of the loss and the metrics;
- the test windows are predicted and stitched back (overlaps averaged): one prediction per frame;
- the task's own tables are computed twice: over the labelled frames (``<table>_frames``) and over the
  videos (``<table>_videos``), a video's prediction being ``--video_score``: ``frames_avg_logits`` (the
  original's ``FRAMES_AVG_LOGITS``: the mean of the frames' pre-activation outputs, recovered exactly from
  softmax / sigmoid / linear outputs, then the activation) or ``frames_vote`` (the class most frames
  predict; classes only). A video's truth is its label row (the corpus's per-video label).

The runner asks :func:`for_folds` once; ``None`` means a segment-level corpus and nothing here is used.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from mmer_tf.data import windows as windowing
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError

VIDEO_SCORES = ("frames_avg_logits", "frames_vote")


def is_frame_level(segments: SegmentSet) -> bool:
    return segments.frame_labels is not None


def mean_logits_score(frames: np.ndarray, activation: str) -> np.ndarray:
    """``[T, K]`` activated frame outputs -> ``[K]``: the activation of the frames' mean pre-activation.

    Softmax: ``log p_t = z_t - logsumexp(z_t)``, and the second term is the same for every class, so
    ``softmax(mean_t log p_t) == softmax(mean_t z_t)`` exactly. Sigmoid: ``z = log(p / (1 - p))``.
    Linear (or any other activation): the mean of the outputs.
    """
    frames = np.asarray(frames, np.float64)
    eps = 1e-12
    if activation == "softmax":
        mean = np.log(np.clip(frames, eps, 1.0)).mean(axis=0)
        mean = np.exp(mean - mean.max())
        return (mean / mean.sum()).astype(np.float32)
    if activation == "sigmoid":
        p = np.clip(frames, eps, 1.0 - eps)
        z = np.log(p / (1.0 - p)).mean(axis=0)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    return frames.mean(axis=0).astype(np.float32)


def vote_score(frames: np.ndarray) -> np.ndarray:
    """``[T, K]`` -> one-hot ``[K]`` of the class most frames predict (ties: the lower class index)."""
    frames = np.asarray(frames)
    counts = np.bincount(frames.argmax(axis=1), minlength=frames.shape[1])
    return np.eye(frames.shape[1], dtype=np.float32)[int(counts.argmax())]


class FrameRun:
    """Windows, per-step targets, stitching and the two evaluations for one run (see the module docstring)."""

    def __init__(self, config, task, schema, folds: Mapping[str, SegmentSet]):
        self.config, self.task, self.schema = config, task, schema
        mode = str(config.video_score)
        if mode not in VIDEO_SCORES:
            raise MmerError(f"--video_score {mode!r}: choose one of {', '.join(VIDEO_SCORES)}")
        if mode == "frames_vote" and task.output_kind(config) != "classes":
            raise MmerError(f"--video_score frames_vote needs a task with classes (-lt {config.label_type} "
                            "predicts scores); use frames_avg_logits")
        refused = [flag for flag, on in (
            ("--mixup_alpha", float(getattr(config, "mixup_alpha", 0)) > 0),
            ("--time_mask", int(getattr(config, "time_mask", 0)) > 0),
            ("--feature_mask", int(getattr(config, "feature_mask", 0)) > 0),
            ("--class_weight", getattr(config, "class_weight", "none") != "none"),
            ("--aux_loss", bool(getattr(config, "aux_loss", ()))),
            ("--triplet_margin", bool(getattr(config, "triplet_margin", "")))) if on]
        if refused:  # they are written for one target row per segment, not for per-step targets and weights
            raise MmerError(f"{', '.join(refused)}: not available on a corpus labelled per frame (per-step targets)")
        for name, fold in folds.items():
            if not fold.aligned:
                raise MmerError("a corpus labelled per frame needs one time axis for every modality; "
                                "drop --noalign_to_text")
            if fold.frame_labels is None:
                raise MmerError(f"fold {name!r} has no per-frame labels while the others do")
        self.videos = dict(folds)
        self.windows = {name: windowing.cut(fold, int(config.window_length), int(config.hop_length))
                        for name, fold in folds.items()}

    # -- training data ------------------------------------------------------------------------------

    def step_targets(self, windows: SegmentSet) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per window: ``[T, outputs]`` targets and ``[T]`` weights (1 labelled frame, 0 unlabelled)."""
        lengths = [len(y) for y in windows.frame_labels]
        if not lengths:
            return [], []
        frames = np.concatenate(windows.frame_labels).astype(np.float64)
        labelled = np.all(np.isfinite(frames), axis=1)
        # an unlabelled frame takes its video's label (a valid target, never used: its weight is 0)
        fill = np.repeat(np.asarray(windows.labels, np.float64), lengths, axis=0)
        targets = self.task.targets(self.config, np.where(np.isfinite(frames), frames, fill), self.schema)
        cuts = np.cumsum(lengths)[:-1]
        return (np.split(np.asarray(targets, np.float32), cuts),
                np.split(labelled.astype(np.float32), cuts))

    def datasets(self, pipeline, *, batch_size: int, seed: int, modalities, drop_remainder: bool = False):
        """``(train, valid, test)`` window datasets with per-step targets and weights.

        Every batch is padded to ``--window_length`` steps (no window is longer), so the predictions of
        all batches stack into one ``[N_windows, window_length, K]`` array.
        """
        out = []
        for name in ("train", "valid", "test"):
            windows, _ = self.windows[name]
            targets, weights = self.step_targets(windows)
            out.append(pipeline.make_dataset(
                windows, targets, step_weights=weights, batch_size=batch_size, shuffle=name == "train",
                seed=seed, modalities=modalities, fixed_steps=int(self.config.window_length),
                drop_remainder=drop_remainder and name != "test"))
        return tuple(out)

    # -- evaluation ---------------------------------------------------------------------------------

    def tables(self) -> tuple[str, ...]:
        base = self.task.tables(self.config)
        return tuple(f"{t}_frames" for t in base) + tuple(f"{t}_videos" for t in base)

    def stitch(self, window_predictions, fold: str = "test") -> list[np.ndarray]:
        """The model's ``[N_windows, T_max, K]`` predictions -> ``[T_v, K]`` per video of ``fold``."""
        _, index = self.windows[fold]
        return windowing.stitch(list(np.asarray(window_predictions, np.float32)), index)

    def video_predictions(self, per_video) -> np.ndarray:
        if self.config.video_score == "frames_vote":
            return np.stack([vote_score(p) for p in per_video])
        return np.stack([mean_logits_score(p, self.config.final_activ) for p in per_video])

    def evaluate(self, per_video, fold: str = "test") -> dict[str, list[dict]]:
        """The task's tables over the labelled frames (``*_frames``) and over the videos (``*_videos``)."""
        videos = self.videos[fold]
        truth = np.concatenate(videos.frame_labels)
        labelled = np.all(np.isfinite(truth), axis=1)
        if not labelled.any():
            raise MmerError(f"the {fold} fold has no labelled frame to score")
        frames = np.concatenate([np.asarray(p, np.float32) for p in per_video])
        families = {}
        for family, rows in self.task.evaluate(self.config, truth[labelled], frames[labelled], self.schema).items():
            families[f"{family}_frames"] = rows
        for family, rows in self.task.evaluate(self.config, videos.labels, self.video_predictions(per_video),
                                               self.schema).items():
            families[f"{family}_videos"] = rows
        return families

    def baseline(self, fold: str = "test") -> dict[str, list[dict]]:
        """The trivial predictor (training mean of the labelled frames' targets) on every frame."""
        train = self.videos["train"]
        frames = np.concatenate(train.frame_labels)
        labelled = frames[np.all(np.isfinite(frames), axis=1)]
        videos = self.videos[fold]
        constant = self.task.baseline(self.config, labelled, 1, self.schema)[0]
        per_video = [np.broadcast_to(constant, (len(y), constant.size)) for y in videos.frame_labels]
        return self.evaluate(per_video, fold)


def for_folds(config, task, schema, folds: Mapping[str, SegmentSet]) -> FrameRun | None:
    """A :class:`FrameRun` when the corpus labels frames, else ``None`` (segment-level: nothing changes)."""
    if not any(is_frame_level(fold) for fold in folds.values()):
        return None
    return FrameRun(config, task, schema, folds)


__all__ = ["FrameRun", "VIDEO_SCORES", "for_folds", "is_frame_level", "mean_logits_score", "vote_score"]
