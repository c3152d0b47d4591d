"""Put mixup, masking and class weights on the training ``tf.data`` pipeline (and nowhere else).

Randomness is stateless: batch ``i`` of epoch ``e`` draws from ``(--seed, e, i)``, with ``e`` read from the
pipeline's epoch counter (``mmer_tf.data.pipeline``), so two runs with one seed see the same augmented
batches and a resumed run sees those of the uninterrupted one. The order per batch: mixup (with
probability ``--mixup_prob``), then masking, then the class weights of the (mixed) targets.
"""

from __future__ import annotations

import numpy as np

from mmer_tf.errors import MmerError


def active(config) -> bool:
    """Whether any option here changes the training batches."""
    return (float(config.mixup_alpha) > 0 and float(config.mixup_prob) > 0) or int(config.time_mask) > 0 \
        or int(config.feature_mask) > 0 or config.class_weight != "none"


def check_config(config) -> None:
    """One-line errors for impossible settings (run before any data is read)."""
    if float(config.mixup_alpha) < 0 or not 0 <= float(config.mixup_prob) <= 1:
        raise MmerError("--mixup_alpha must be >= 0 and --mixup_prob in [0, 1]")
    if int(config.time_mask) < 0 or int(config.feature_mask) < 0 or int(config.num_masks) < 1:
        raise MmerError("--time_mask/--feature_mask must be >= 0 and --num_masks >= 1")
    unknown = [m for m in config.mask_modalities if m not in config.modalities]
    if unknown:
        raise MmerError(f"--mask_modalities: {','.join(unknown)} not among --modalities "
                        f"{','.join(config.modalities)}")
    if config.class_weight not in ("none", "balanced"):
        raise MmerError(f"--class_weight: {config.class_weight!r} must be none or balanced")
    if config.class_weight == "balanced" and config.label_type != "category":
        raise MmerError("--class_weight balanced: needs one class per segment (-lt category)")
    smoothing = float(config.label_smoothing)
    if not 0 <= smoothing < 1:
        raise MmerError(f"--label_smoothing must be in [0, 1), got {smoothing:g}")
    if smoothing > 0 and config.loss_function and "crossentropy" not in config.loss_function:
        raise MmerError(f"--label_smoothing: applies to cross-entropy losses, not -lf {config.loss_function}")


def for_training(dataset, config, targets: np.ndarray, output_kind: str):
    """``dataset`` (from ``pipeline.make_dataset(shuffle=True)``) with the configured augmentation mapped on."""
    check_config(config)
    if not active(config):
        return dataset
    import tensorflow as tf

    from mmer_tf.augment import masking, mixup
    from mmer_tf.augment.class_weight import balanced_class_weights

    weights = None
    if config.class_weight == "balanced":
        if output_kind != "classes":
            raise MmerError("--class_weight balanced: needs one class per segment (-lt category)")
        if len(dataset.element_spec) == 3:
            raise MmerError("--class_weight balanced: not available on a corpus labelled per frame")
        weights = tf.constant(balanced_class_weights(targets))
    mixing = float(config.mixup_alpha) > 0 and float(config.mixup_prob) > 0
    masked = tuple(config.mask_modalities or config.modalities)
    masking_on = int(config.time_mask) > 0 or int(config.feature_mask) > 0
    epoch = getattr(dataset, "_mmer_epoch", None)
    base_seed = int(config.seed)

    def augment(index, batch):
        # (inputs, targets) or, on a corpus labelled per frame, (inputs, targets, step weights)
        inputs, y = batch[0], batch[1]
        given = batch[2] if len(batch) == 3 else None
        current = epoch.read_value() if epoch is not None else tf.constant(0, tf.int64)
        seed = tf.stack([tf.constant(base_seed, tf.int64), current * 1_000_003 + tf.cast(index, tf.int64)])
        seeds = tf.random.experimental.stateless_split(seed, 3)
        if mixing:
            lam, perm = mixup.draw(seeds[0], tf.shape(y)[0], float(config.mixup_alpha))
            coin = tf.random.stateless_uniform([], seed=seeds[1]) < float(config.mixup_prob)
            mixed_inputs, mixed_y = mixup.mix(inputs, y, lam, perm)
            inputs = {k: tf.where(coin, mixed_inputs[k], v) for k, v in inputs.items()}
            y = tf.where(coin, mixed_y, y)
            if given is not None:  # a mixed step counts only where both partners are labelled
                given = tf.where(coin, tf.minimum(given, tf.gather(given, perm)), given)
        if masking_on:
            per_modality = tf.random.experimental.stateless_split(seeds[2], len(masked))
            inputs = dict(inputs)
            for position, m in enumerate(masked):
                if m in inputs:
                    inputs[m] = masking.mask_sequence(per_modality[position], inputs[m], inputs[f"{m}_mask"],
                                                      int(config.time_mask), int(config.feature_mask),
                                                      int(config.num_masks))
        if weights is not None:
            per_row = tf.reduce_sum(y * weights, axis=-1)
            given = per_row if given is None else given * per_row
        return (inputs, y) if given is None else (inputs, y, given)

    result = dataset.enumerate().map(augment).prefetch(tf.data.AUTOTUNE)
    if epoch is not None:
        result._mmer_epoch = epoch  # keep pipeline.set_epoch working on the augmented dataset
    return result
