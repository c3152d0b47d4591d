"""Batch-hard triplet loss with M2FNet's adaptive margin (``--triplet_margin adaptive|FLOAT``), ``keras.ops``.

M2FNet (Chudasama et al., CVPR-W 2022) trains its audio and visual feature extractors with a triplet
loss whose margin adapts to each triplet. Here, for one batch of embeddings ``e`` and classes ``c``
(the argmax of the targets):

1. embeddings are L2-normalised, distances are Euclidean, ``d(i, j) = ||e_i - e_j||``, in [0, 2];
2. batch-hard mining (Hermans et al. 2017): for every anchor ``a``, the farthest same-class segment ``p``
   and the nearest other-class segment ``n``; anchors without both are left out;
3. the margin is a fixed number, or adaptive: from the cosine similarities ``s_ap``, ``s_an`` of the
   mined pair, ``m = max(0, (1 + s_an - s_ap) / 2)`` in [0, 1.5] (no gradient through it), larger for a triplet
   whose negative looks like the anchor and whose positive does not;
4. the loss is the mean over kept anchors of ``max(0, d(a, p) - d(a, n) + m)``.

Where this departs from the paper is stated in docs/MODELS.md (the embedding it is applied to, and the
adaptive margin's formula, which is ours).
"""

from __future__ import annotations

from mmer_tf.errors import MmerError


def parse_margin(value) -> float | None:
    """``"adaptive"`` -> ``None``; a number -> that margin (>= 0); anything else is a user error."""
    text = str(value).strip().lower()
    if text == "adaptive":
        return None
    try:
        margin = float(text)
    except ValueError:
        raise MmerError(f"--triplet_margin: {value!r} is neither 'adaptive' nor a number") from None
    if not margin >= 0:
        raise MmerError(f"--triplet_margin must be >= 0, got {value}")
    return margin


def _pairwise_distances(embeddings):
    from keras import ops  # here, not at the top: main.py calls parse_margin before Keras is imported

    squared = ops.sum(ops.square(embeddings), axis=-1)
    gram = ops.matmul(embeddings, ops.transpose(embeddings))
    d2 = ops.maximum(squared[:, None] + squared[None, :] - 2.0 * gram, 0.0)
    # the square root's gradient at 0 is infinite: keep exact zeros away from it
    zero = ops.cast(ops.less_equal(d2, 1e-12), d2.dtype)
    return ops.sqrt(d2 + zero * 1e-12) * (1.0 - zero)


def batch_hard_triplet_loss(targets, embeddings, margin: float | None):
    """Scalar loss for ``targets`` ``[B, K]`` (one-hot or mixed) and ``embeddings`` ``[B, F]``."""
    from keras import ops  # here, not at the top: main.py calls parse_margin before Keras is imported

    embeddings = ops.cast(embeddings, "float32")
    norms = ops.sqrt(ops.maximum(ops.sum(ops.square(embeddings), axis=-1, keepdims=True), 1e-12))
    unit = embeddings / norms
    classes = ops.argmax(targets, axis=-1)
    distances = _pairwise_distances(unit)
    same = ops.equal(classes[:, None], classes[None, :])
    eye = ops.cast(ops.eye(ops.shape(distances)[0]), "bool")
    positive = ops.logical_and(same, ops.logical_not(eye))
    negative = ops.logical_not(same)
    hardest_positive = ops.max(ops.where(positive, distances, ops.zeros_like(distances)), axis=1)
    hardest_negative = ops.min(ops.where(negative, distances, ops.full_like(distances, 1e9)), axis=1)
    kept = ops.cast(ops.logical_and(ops.any(positive, axis=1), ops.any(negative, axis=1)), "float32")
    if margin is None:
        # cosine similarity of unit vectors from their distance: s = 1 - d^2 / 2
        s_ap = 1.0 - ops.square(hardest_positive) / 2.0
        s_an = 1.0 - ops.square(ops.minimum(hardest_negative, 2.0)) / 2.0
        m = ops.stop_gradient(ops.relu((1.0 + s_an - s_ap) / 2.0))
    else:
        m = float(margin)
    per_anchor = ops.relu(hardest_positive - hardest_negative + m) * kept
    return ops.sum(per_anchor) / ops.maximum(ops.sum(kept), 1.0)
