"""SpecAugment-style masking (Park et al. 2019) for any modality: zero random time spans and feature bands.

Per sequence and modality, ``--num_masks`` time spans of width ``w ~ U{0..--time_mask}`` are placed
uniformly inside the *real* steps (never in padding, never wider than the sequence) and ``--num_masks``
feature bands of width ``f ~ U{0..--feature_mask}`` inside the feature axis; the covered values become 0
(the training mean after the suite's z-normalisation). The ``m_mask`` is left as it is: a masked step is
still a real step whose content was hidden.
"""

from __future__ import annotations


def span_mask(starts, widths, size):
    """``[B, size]`` float: 0 where some span ``[start, start + width)`` covers a position, else 1.

    ``starts``/``widths`` are ``[B, K]`` int (K spans per row). TensorFlow ops.
    """
    import tensorflow as tf

    positions = tf.range(size)[None, None, :]
    covered = (positions >= starts[..., None]) & (positions < (starts + widths)[..., None])
    return 1.0 - tf.cast(tf.reduce_any(covered, axis=1), tf.float32)


def _spans(seed, lengths, widest: int, count: int):
    """``(starts, widths)`` ``[B, K]`` int32 spans inside ``[0, length)`` per row."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, 2)
    shape = tf.stack([tf.shape(lengths)[0], count])
    widths = tf.cast(tf.floor(tf.random.stateless_uniform(shape, seed=seeds[0]) * float(widest + 1)), tf.int32)
    widths = tf.minimum(widths, lengths[:, None])
    room = lengths[:, None] - widths + 1
    starts = tf.cast(tf.floor(tf.random.stateless_uniform(shape, seed=seeds[1]) * tf.cast(room, tf.float32)),
                     tf.int32)
    return tf.minimum(starts, room - 1), widths


def time_mask_spans(seed, mask, widest: int, count: int):
    """Time spans for a ``[B, T]`` float mask (placed within each row's real steps)."""
    import tensorflow as tf

    lengths = tf.cast(tf.reduce_sum(tf.cast(mask > 0.5, tf.int32), axis=1), tf.int32)
    return _spans(seed, lengths, widest, count)


def feature_mask_spans(seed, batch, dim: int, widest: int, count: int):
    """Feature bands for a batch of ``batch`` rows with ``dim`` features."""
    import tensorflow as tf

    return _spans(seed, tf.fill([batch], tf.constant(dim, tf.int32)), widest, count)


def mask_sequence(seed, x, mask, time_widest: int, feature_widest: int, count: int):
    """``x`` ``[B, T, D]`` with the drawn time spans and feature bands zeroed."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, 2)
    keep = tf.ones_like(x)
    if time_widest > 0:
        starts, widths = time_mask_spans(seeds[0], mask, time_widest, count)
        keep = keep * span_mask(starts, widths, tf.shape(x)[1])[:, :, None]
    if feature_widest > 0:
        dim = x.shape[-1]
        starts, widths = feature_mask_spans(seeds[1], tf.shape(x)[0], dim, feature_widest, count)
        keep = keep * span_mask(starts, widths, dim)[:, None, :]
    return x * keep
