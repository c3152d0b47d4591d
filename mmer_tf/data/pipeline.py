"""SegmentSet -> ``tf.data.Dataset`` of padded, masked float32 batches.

Batch contract (docs/CONVENTIONS.md): ``(inputs, targets)`` where ``inputs`` holds, for each modality
``m``, ``m`` -> ``[B, T_m, D_m]`` float32 and ``m_mask`` -> ``[B, T_m]`` float32 (1.0 real step, 0.0
padding), and ``targets`` is ``[B, outputs]`` float32. In the aligned view all modalities share T.

How it is fast (the seed fed one float64 example at a time from a Python generator and never assigned
its ``.shuffle().batch()``): each modality is stored once as a ``tf.RaggedTensor`` (all segments'
steps concatenated + row lengths). An epoch shuffles only the segment *indices* (seeded, reshuffled
every epoch), batches them, and one vectorised ``tf.gather`` + ``to_tensor`` per batch and modality
builds the padded block and its mask in C++, overlapped with training by ``prefetch(AUTOTUNE)``.

Padding and ``fixed_steps``:
- ``fixed_steps=0``: each batch is padded to its own longest segment (per modality).
- ``fixed_steps=N`` (the ``-s N`` flag, the seed's rule): a segment longer than N keeps its LAST N steps;
  a shorter one is zero-padded to N. Padding always goes AFTER the real steps (right padding) and the
  mask marks exactly the real steps, so mask-aware models give the same answer wherever the padding
  sits, and right padding keeps Keras' cuDNN LSTM kernel eligible.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError


def _resolve_modalities(segments: SegmentSet, modalities: Iterable[str] | None, streams=None) -> tuple[str, ...]:
    chosen = tuple(segments.modalities if modalities is None else modalities)
    if not chosen and not streams:
        raise MmerError("modalities: no modality selected for the input pipeline")
    missing = [m for m in chosen if m not in segments.features]
    if missing:
        raise MmerError(
            f"modalities: {', '.join(missing)} not in this segment set (it has {', '.join(segments.modalities)})"
        )
    return chosen


def dims_of(segments: SegmentSet, modalities: Iterable[str] | None = None) -> dict[str, int]:
    """Feature dimension per modality (in the order the pipeline yields them)."""
    chosen = _resolve_modalities(segments, modalities)
    if len(segments) == 0:
        raise MmerError("segment set is empty: no feature dimensions to read")
    return {m: int(np.shape(segments.features[m][0])[-1]) for m in chosen}


def _check_inputs(segments: SegmentSet, targets: np.ndarray, chosen: Sequence[str], fixed_steps: int,
                  batch_size: int) -> np.ndarray:
    if len(segments) == 0:
        raise MmerError("segment set is empty: nothing to feed the model")
    if batch_size < 1:
        raise MmerError(f"-b/--batch_size must be >= 1, got {batch_size}")
    if fixed_steps < 0:
        raise MmerError(f"-s/--fixed_num_steps must be >= 0, got {fixed_steps}")
    targets = np.asarray(targets, dtype=np.float32)
    if targets.ndim == 1:
        targets = targets[:, None]
    if targets.ndim != 2 or targets.shape[0] != len(segments):
        raise MmerError(
            f"targets: shape {targets.shape} does not match {len(segments)} segments (expected [N, outputs])"
        )
    for m in chosen:
        lengths = segments.lengths(m)
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            raise MmerError(f"segment {segments.ids[empty[0]]!r}: modality {m!r} has no time steps")
    if segments.aligned and len(chosen) > 1:
        reference = segments.lengths(chosen[0])
        for m in chosen[1:]:
            bad = np.flatnonzero(segments.lengths(m) != reference)
            if bad.size:
                i = bad[0]
                raise MmerError(
                    f"segment {segments.ids[i]!r}: aligned view but {chosen[0]!r} has {reference[i]} steps "
                    f"and {m!r} has {segments.lengths(m)[i]}"
                )
    return targets


def ragged_storage(sequences: Sequence[np.ndarray], fixed_steps: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``[T_i, D]`` sequences into ``(values [sum T_i, D] float32, row_lengths [N] int64)``.

    With ``fixed_steps=N`` only the last ``min(T_i, N)`` steps of each sequence are kept (vectorised index
    arithmetic, no per-segment loop beyond the one ``np.concatenate``).
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    values = np.concatenate([np.asarray(s, dtype=np.float32) for s in sequences], axis=0)
    if fixed_steps <= 0 or not np.any(lengths > fixed_steps):
        return values, lengths
    kept = np.minimum(lengths, fixed_steps)
    ends = np.cumsum(lengths)
    first_kept = ends - kept  # start of the last `kept` steps of each row in `values`
    kept_starts = np.cumsum(kept) - kept
    within = np.arange(int(kept.sum()), dtype=np.int64) - np.repeat(kept_starts, kept)
    index = np.repeat(first_kept, kept) + within
    return values[index], kept


def make_dataset(segments: SegmentSet, targets, *, batch_size: int, shuffle: bool, seed: int,
                 fixed_steps: int = 0, modalities: Iterable[str] | None = None,
                 drop_remainder: bool = False, step_weights: Sequence[np.ndarray] | None = None,
                 streams: Sequence = ()):
    """Batches ``({m: [B,T,D], m_mask: [B,T]}, targets [B, outputs])``, all float32, prefetched.

    Per-step targets (a corpus labelled per frame): ``targets`` is one ``[T_i, outputs]`` array per
    segment and ``step_weights`` one ``[T_i]`` array (0 for a step without a label); batches are then
    ``(inputs, targets [B, T, outputs], weights [B, T])``, padded like the inputs with weight 0, so Keras
    leaves unlabelled and padded steps out of the loss and the (weighted) metrics; a batch's weights are
    scaled to mean 1, so its loss is the mean over its labelled steps.

    ``shuffle=True`` draws a new order every epoch (every iteration of the returned dataset): epoch k's
    order is :func:`epoch_order` ``(n, seed, k)``; iterations count epochs 0, 1, 2, ... unless
    :func:`set_epoch` says which epoch comes next (the training loop does, so a resumed run matches).
    ``shuffle=False`` keeps the segment order (use it for evaluation and prediction).

    ``streams``: inputs read per batch rather than held in memory (``mmer_tf.finetune``'s cached frames):
    each is called with the batch's segment indices and the static batch size and returns more inputs.
    """
    import tensorflow as tf

    chosen = _resolve_modalities(segments, modalities, streams)
    per_step = step_weights is not None
    if per_step:
        _check_inputs(segments, np.zeros((len(segments), 1), np.float32), chosen, int(fixed_steps), int(batch_size))
        _check_step_targets(segments, targets, step_weights, chosen[0])
    else:
        targets = _check_inputs(segments, targets, chosen, int(fixed_steps), int(batch_size))
    n = len(segments)

    ragged = {}
    for m in chosen:
        values, lengths = ragged_storage(segments.features[m], int(fixed_steps))
        ragged[m] = tf.RaggedTensor.from_row_lengths(tf.constant(values), tf.constant(lengths), validate=False)
    if per_step:
        values, lengths = ragged_storage(targets, int(fixed_steps))
        target_table = tf.RaggedTensor.from_row_lengths(tf.constant(values), tf.constant(lengths), validate=False)
        values, lengths = ragged_storage([np.asarray(w, np.float32)[:, None] for w in step_weights],
                                         int(fixed_steps))
        weight_table = tf.RaggedTensor.from_row_lengths(tf.constant(values[:, 0]), tf.constant(lengths),
                                                        validate=False)
        outputs = int(target_table.values.shape[-1])
    else:
        target_table = tf.constant(targets)
    dims = {m: int(ragged[m].values.shape[-1]) for m in chosen}
    steps = int(fixed_steps) if fixed_steps > 0 else None
    # Full batches have a static batch axis: Keras' multi-process DataParallel reads it to split batches.
    rows_per_batch = int(batch_size) if drop_remainder else None

    def gather(index):
        inputs = {}
        for m in chosen:
            rows = tf.gather(ragged[m], index)
            dense = rows.to_tensor(shape=[rows_per_batch, steps, dims[m]])
            inputs[m] = dense
            inputs[f"{m}_mask"] = tf.ensure_shape(
                tf.sequence_mask(rows.row_lengths(), maxlen=tf.shape(dense)[1], dtype=tf.float32),
                [rows_per_batch, steps])
        for stream in streams:
            inputs.update(stream(index, rows_per_batch))
        if per_step:
            padded_steps = tf.shape(inputs[chosen[0]])[1]
            y = tf.gather(target_table, index).to_tensor(shape=[rows_per_batch, steps, outputs])
            w = tf.gather(weight_table, index).to_tensor(shape=[rows_per_batch, steps])[:, :padded_steps]
            # Keras averages a weighted loss over every step of the batch; scaling the weights to mean 1 makes
            # that the mean over the labelled steps (as if the others were not there); metrics are unchanged.
            w = tf.math.divide_no_nan(w * tf.cast(tf.size(w), w.dtype), tf.reduce_sum(w))
            return inputs, y[:, :padded_steps], w
        return inputs, tf.gather(target_table, index)

    epoch = None
    if shuffle:
        # The order of epoch k is a pure function of (seed, k) (see epoch_order): a run resumed at epoch
        # k sees the same batches as one that never stopped. Each new iteration reads the epoch number
        # from a variable and advances it; fit's EpochShuffle callback pins it to Keras' epoch first.
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="mmer_epoch")

        def epoch_indices(_):
            current = epoch.assign_add(1) - 1
            return tf.data.Dataset.from_tensor_slices(_order_tensor(n, int(seed), current))

        order = tf.data.Dataset.range(1).flat_map(epoch_indices).apply(
            tf.data.experimental.assert_cardinality(n))  # Keras then knows the epoch length
    else:
        order = tf.data.Dataset.range(n)
    batches = order.batch(int(batch_size), drop_remainder=drop_remainder)
    # Under op determinism (the default, see train.seed_everything) tf.data runs a map downstream of the
    # stateful epoch counter sequentially anyway, and logs a NodeDef error each fit when it rewrites a
    # parallel one; ask for the sequential map directly then.
    from tensorflow.python.framework import config as tf_config

    sequential = epoch is not None and tf_config.is_op_determinism_enabled()
    if sequential:
        dataset = batches.map(gather)
    else:
        dataset = batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    if epoch is not None:
        dataset._mmer_epoch = epoch  # read by set_epoch
    return dataset


def _check_step_targets(segments: SegmentSet, targets, weights, reference: str) -> None:
    """Per-step targets and weights: one array per segment, as many steps as the segment's inputs."""
    if len(targets) != len(segments) or len(weights) != len(segments):
        raise MmerError(f"per-step targets: {len(targets)} target and {len(weights)} weight sequences for "
                        f"{len(segments)} segments")
    lengths = segments.lengths(reference)
    for i, (y, w) in enumerate(zip(targets, weights)):
        if np.ndim(y) != 2 or len(y) != lengths[i] or np.shape(w) != (lengths[i],):
            raise MmerError(f"segment {segments.ids[i]!r}: per-step targets {np.shape(y)} and weights "
                            f"{np.shape(w)} do not match its {lengths[i]} steps")


def _order_tensor(n: int, seed: int, epoch):
    """In-graph permutation of ``range(n)`` for ``(seed, epoch)``: stable argsort of stateless int64 keys."""
    import tensorflow as tf

    keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.constant(int(seed), tf.int64),
                                                           tf.cast(epoch, tf.int64)]),
                                       minval=None, maxval=None, dtype=tf.int64)
    return tf.argsort(keys, stable=True, direction="ASCENDING")


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The segment order a shuffled dataset uses in epoch ``epoch`` (0-based): a function of (seed, epoch).

    It depends on nothing else (not on how many epochs this process has run, not on TensorFlow's global
    seed), which is what makes a resumed run identical to an uninterrupted one.
    """
    return _order_tensor(int(n), int(seed), int(epoch)).numpy().astype(np.int64)


def set_epoch(dataset, epoch: int) -> bool:
    """Make the next iteration of a shuffled ``dataset`` (from :func:`make_dataset`) use epoch ``epoch``.

    Returns False (and does nothing) for an unshuffled dataset. Keras creates a fresh iterator at the
    start of every epoch, after ``on_epoch_begin``, which is where the training loop calls this.
    """
    variable = getattr(dataset, "_mmer_epoch", None)
    if variable is None:
        return False
    variable.assign(int(epoch))
    return True


def seed_style_dataset(segments: SegmentSet, targets: np.ndarray, *, batch_size: int, shuffle: bool = False,
                       seed: int = 0, fixed_steps: int = 0, modalities: Iterable[str] | None = None):
    """The seed's feeding, kept only as the benchmark's baseline: do not train with it.

    A Python generator yields one example at a time as float64 NumPy arrays through
    ``tf.data.Dataset.from_generator``; ``padded_batch`` pads them; a final map casts to float32 so the
    batches satisfy the same contract as :func:`make_dataset`. No prefetch, like the seed. Shuffling,
    when asked, is a NumPy permutation per epoch in the generator (the seed's own ``.shuffle()`` call
    was never assigned, so it did nothing).
    """
    import tensorflow as tf

    chosen = _resolve_modalities(segments, modalities)
    targets = _check_inputs(segments, targets, chosen, int(fixed_steps), int(batch_size))
    dims = {m: int(np.shape(segments.features[m][0])[-1]) for m in chosen}
    rng = np.random.default_rng(seed)

    def generate():
        order = rng.permutation(len(segments)) if shuffle else range(len(segments))
        for i in order:
            example = {}
            for m in chosen:
                x = np.asarray(segments.features[m][i], dtype=np.float64)
                if fixed_steps > 0:
                    x = x[-fixed_steps:]
                example[m] = x
                example[f"{m}_mask"] = np.ones(len(x), dtype=np.float64)
            yield example, targets[i].astype(np.float64)

    signature = (
        {**{m: tf.TensorSpec([None, dims[m]], tf.float64) for m in chosen},
         **{f"{m}_mask": tf.TensorSpec([None], tf.float64) for m in chosen}},
        tf.TensorSpec([targets.shape[1]], tf.float64),
    )
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if fixed_steps > 0:
        shapes = ({**{m: [fixed_steps, dims[m]] for m in chosen}, **{f"{m}_mask": [fixed_steps] for m in chosen}},
                  [targets.shape[1]])
        dataset = dataset.padded_batch(int(batch_size), padded_shapes=shapes)
    else:
        dataset = dataset.padded_batch(int(batch_size))
    return dataset.map(lambda x, y: ({k: tf.cast(v, tf.float32) for k, v in x.items()}, tf.cast(y, tf.float32)))


__all__ = ["dims_of", "epoch_order", "make_dataset", "ragged_storage", "seed_style_dataset", "set_epoch"]
