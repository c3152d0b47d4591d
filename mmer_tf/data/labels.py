"""Label transforms: CMU-MOSEI annotations -> the granularities the suite trains on and scores.

A segment's labels are ``[sentiment, happy, sad, anger, surprise, disgust, fear]``; the six emotion
*presence scores* lie in [0, 3] and, being means of three annotators' 0-3 ratings, take only the twelve
values of :data:`OBSERVED_SCORES`. Every granularity is derived from those scores by one vectorised
function, and the *same* function turns the truth and a model's raw score predictions into scores or
classes, so truth and prediction are always compared at the same granularity:

=============  ====================================================================================
``all``        :func:`scores_all` -- the nearest observed score value (12 levels)
``coarse``     :func:`scores_coarse` -- the nearest of {0, 1, 2, 3}
``present``    :func:`presence` -- score > 0 (threshold 0) or score >= t (threshold t > 0)
``dominant``   :func:`dominant` -- every emotion tied at the row maximum (none in an all-zero row)
neutral        :func:`with_neutral` -- a 7th class, on when no emotion class is on
=============  ====================================================================================

The original suite snapped to a 12-level grid written with two decimals, :data:`ORIGINAL_SCORES`
(``[0, 0.16, 0.33, 0.5, 0.66, 1, 1.33, ...]``); ours is the exact thirds and sixths the annotations are.
Level ``k`` of one grid is level ``k`` of the other (:func:`level_index`), and a ``-tp`` threshold
within :data:`LEVEL_TOLERANCE` of a level means that level (``0.33``, ``0.333`` and ``1/3`` all ask for
level 2), so every level metric (coarse, presence, dominant, neutral) is identical whether the scores
are written on the original's grid or on ours. Raw predictions *between* levels snap at our midpoints
(1/4 between 1/6 and 1/3, the original's 0.245): the only place the grids can disagree.

Ties in :func:`nearest` go to the *lower* value (0.5 -> 0 when coarse), which is what the original
suite's ``min(values, key=distance)`` did; a tie can only happen for values exactly halfway.

Training targets (:func:`make_targets`) come in two kinds (:func:`output_kind`): ``all``/``coarse``
regress the six scores in [0, 3] (6 outputs: the neutral class is not a score -- it is fully
determined by the scores and is derived from them at evaluation time), ``present``/``dominant`` train one
sigmoid per class (6 outputs, 7 with the neutral class).
"""

from __future__ import annotations

import numpy as np

from mmer_tf.errors import MmerError

EMOTIONS: tuple[str, ...] = ("happy", "sad", "anger", "surprise", "disgust", "fear")
NEUTRAL = "neutral"
#: The emotions task's ``-lt`` values (``tasks/emotions.py`` owns them; ``-lt``'s choices come from the tasks).
LABEL_TYPES: tuple[str, ...] = ("all", "coarse", "present", "dominant")
SCORE_MAX = 3.0

#: The twelve presence-score values CMU-MOSEI annotations take (means of three 0-3 ratings).
OBSERVED_SCORES = np.array(
    [0.0, 1 / 6, 1 / 3, 1 / 2, 2 / 3, 1.0, 4 / 3, 5 / 3, 2.0, 7 / 3, 8 / 3, 3.0], dtype=np.float64
)
#: The original suite's grid for the same twelve levels (``main.py``'s ``all_scores``).
ORIGINAL_SCORES = np.array([0, 0.16, 0.33, 0.5, 0.66, 1, 1.33, 1.66, 2, 2.33, 2.66, 3], dtype=np.float64)
#: A threshold this close to a level is that level (the grids differ by at most 1/150 = 0.0067).
LEVEL_TOLERANCE = 0.007
#: The four coarse presence levels.
COARSE_SCORES = np.array([0.0, 1.0, 2.0, 3.0], dtype=np.float64)


def class_names(neutral: bool) -> tuple[str, ...]:
    """Column names of class outputs, in the suite's order (``neutral`` last when asked)."""
    return EMOTIONS + ((NEUTRAL,) if neutral else ())


def check_label_type(label_type: str) -> str:
    """Return ``label_type`` if it is one of the emotion label types (the task registry refused every other
    ``-lt`` value before this is reached), else a one-line error."""
    if label_type not in LABEL_TYPES:
        raise MmerError(f"-lt/--label_type {label_type!r}: not an emotion label type ({', '.join(LABEL_TYPES)})")
    return label_type


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` as float or raise a one-line error naming the ``-tp`` flag."""
    value = float(threshold)
    if not 0.0 <= value <= SCORE_MAX:
        raise MmerError(
            f"-tp/--threshold_emo_present: presence threshold {threshold} is outside [0, {SCORE_MAX:g}]"
        )
    return value


def output_kind(label_type: str) -> str:
    """``"scores"`` (all/coarse: regress scores in [0, 3]) or ``"probabilities"`` (present/dominant)."""
    return "scores" if check_label_type(label_type) in ("all", "coarse") else "probabilities"


def num_outputs(label_type: str, neutral: bool) -> int:
    """Width of the model's output layer for ``label_type``: 6, or 7 for class targets with neutral."""
    if output_kind(label_type) == "scores":
        return len(EMOTIONS)
    return len(EMOTIONS) + int(bool(neutral))


def emotion_scores(labels7: np.ndarray) -> np.ndarray:
    """Drop the sentiment column: ``[N, 7]`` CMU-MOSEI labels -> ``[N, 6]`` float32 emotion scores."""
    labels7 = np.asarray(labels7)
    if labels7.ndim != 2 or labels7.shape[1] != 1 + len(EMOTIONS):
        raise ValueError(
            f"labels must be [N, 7] (sentiment + six emotions), got shape {labels7.shape}"
        )
    return labels7[:, 1:].astype(np.float32)


def nearest(scores: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Replace each entry of ``scores`` by the nearest element of ``values`` (ties -> the lower one).

    Out-of-range entries clamp to the smallest / largest value, so a regression output of -0.2 is 0
    and 3.4 is 3. Vectorised with ``searchsorted``; the result is float32 with the shape of ``scores``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        raise ValueError("nearest: scores contain NaN or infinite values")
    grid = np.unique(np.asarray(values, dtype=np.float64))  # sorted, deduplicated
    if grid.size == 0:
        raise ValueError("nearest: values is empty")
    upper = np.clip(np.searchsorted(grid, scores, side="left"), 0, grid.size - 1)
    lower = np.clip(upper - 1, 0, grid.size - 1)
    take_lower = np.abs(scores - grid[lower]) <= np.abs(grid[upper] - scores)
    return np.where(take_lower, grid[lower], grid[upper]).astype(np.float32)


def scores_all(scores: np.ndarray) -> np.ndarray:
    """The nearest of the twelve observed score values (``-lt all`` granularity)."""
    return nearest(scores, OBSERVED_SCORES)


def scores_coarse(scores: np.ndarray) -> np.ndarray:
    """The nearest of {0, 1, 2, 3} (``-lt coarse`` granularity)."""
    return nearest(scores, COARSE_SCORES)


def level_index(scores: np.ndarray) -> np.ndarray:
    """Index 0-11 of each score's level: the nearest level of :data:`OBSERVED_SCORES`, so the original's
    ``0.16``/``0.33``/``0.66`` and our ``1/6``/``1/3``/``2/3`` are the same level."""
    snapped = nearest(scores, OBSERVED_SCORES).astype(np.float64)
    return np.abs(snapped[..., None] - OBSERVED_SCORES).argmin(axis=-1)


def effective_threshold(threshold: float) -> float:
    """The value presence compares with: a threshold within :data:`LEVEL_TOLERANCE` of a level asks for
    that level (just under it, so float32 scores of that level pass), any other threshold is itself."""
    threshold = check_threshold(threshold)
    level = OBSERVED_SCORES[np.abs(OBSERVED_SCORES - threshold).argmin()]
    if threshold > 0 and abs(level - threshold) <= LEVEL_TOLERANCE:
        return float(level) - 1e-6
    return threshold


def presence(scores: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Multi-hot int8 of present emotions: score > 0 when ``threshold`` is 0, else score >= threshold.

    Threshold 0 means "any annotator saw it" (strictly positive); a positive threshold asks for at least
    that intensity, as the original suite's ``-tp`` list did.
    """
    threshold = check_threshold(threshold)
    scores = np.asarray(scores)
    on = scores > 0 if threshold == 0.0 else scores >= effective_threshold(threshold)
    return on.astype(np.int8)


def dominant(scores: np.ndarray) -> np.ndarray:
    """Multi-hot int8 of the emotions tied at each row's maximum score.

    An all-zero row (or one whose maximum is <= 0) has *no* dominant emotion: every column is 0. With
    the neutral class (:func:`with_neutral`) that row becomes "neutral only"; without it the row simply
    has no positive label, which is what an utterance with no annotated emotion is.
    """
    scores = np.asarray(scores)
    row_max = scores.max(axis=1, keepdims=True)
    return ((scores == row_max) & (row_max > 0)).astype(np.int8)


def with_neutral(classes: np.ndarray) -> np.ndarray:
    """Append the neutral column: 1 where no emotion class is on, else 0.

    Applied to :func:`presence` at threshold 0 or to :func:`dominant`, "no class on" is exactly "every
    score is 0"; at a threshold t > 0 it is "no emotion reaches t", as in the original suite.
    """
    classes = np.asarray(classes)
    neutral = (classes.max(axis=1, keepdims=True) <= 0).astype(classes.dtype)
    return np.concatenate([classes, neutral], axis=1)


def class_targets(scores: np.ndarray, label_type: str, neutral: bool, threshold: float = 0.0) -> np.ndarray:
    """Multi-hot int8 classes of ``scores`` for ``present``/``dominant`` (+ neutral column when asked).

    ``scores`` are snapped to :data:`OBSERVED_SCORES` first, so a raw model output of 0.05 counts as 0
    (absent) exactly as the annotations would.
    """
    snapped = scores_all(scores)
    if check_label_type(label_type) == "present":
        classes = presence(snapped, threshold)
    elif label_type == "dominant":
        classes = dominant(snapped)
    else:
        raise ValueError(f"class_targets: {label_type!r} is a score label type, not a class one")
    return with_neutral(classes) if neutral else classes


def make_targets(labels7: np.ndarray, label_type: str, neutral: bool = False, threshold: float = 0.0) -> np.ndarray:
    """Float32 training targets ``[N, num_outputs(label_type, neutral)]`` for ``-lt label_type``.

    ``all``/``coarse``: the six scores at that granularity (``neutral`` does not change them; see the
    module docstring). ``present``: presence at ``threshold`` (``-tp``'s first value is the natural
    choice). ``dominant``: the tied-maximum multi-hot. Class targets get the neutral column when asked.
    """
    scores = emotion_scores(labels7)
    if check_label_type(label_type) == "all":
        return scores_all(scores)
    if label_type == "coarse":
        return scores_coarse(scores)
    return class_targets(scores, label_type, neutral, threshold).astype(np.float32)
