"""Mixup of whole batches (Zhang et al. 2018), as seed 003 mixes its speech and text batches.

A batch is mixed with a permutation of itself: every input ``x`` becomes ``lam * x + (1 - lam) * x[perm]``,
every target ``y`` likewise, and every mask ``m_mask`` becomes the union ``max(m, m[perm])`` (a step is real
when it is real in either sequence; padded steps are zero, so the mixed padding is the other sequence's
step scaled by its weight). ``lam ~ Beta(alpha, alpha)``, one per batch.
"""

from __future__ import annotations


def mix(inputs: dict, targets, lam, perm):
    """The mixed batch for a given ``lam`` (scalar) and permutation ``perm`` (``[B]`` int); TensorFlow ops."""
    import tensorflow as tf

    lam = tf.cast(lam, tf.float32)
    mixed = {}
    for key, value in inputs.items():
        other = tf.gather(value, perm)
        if key.endswith("_mask"):
            mixed[key] = tf.maximum(value, other)
        else:
            mixed[key] = lam * value + (1.0 - lam) * other
    return mixed, lam * targets + (1.0 - lam) * tf.gather(targets, perm)


def draw(seed, batch_size, alpha: float):
    """``(lam, perm)`` from a stateless ``seed`` (shape ``[2]`` int): Beta via two Gamma draws."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, 2)
    gammas = tf.random.stateless_gamma([2], seed=seeds[0], alpha=float(alpha))
    lam = gammas[0] / tf.maximum(gammas[0] + gammas[1], 1e-12)
    keys = tf.random.stateless_uniform([batch_size], seed=seeds[1])
    return lam, tf.argsort(keys, stable=True)
