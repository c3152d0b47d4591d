"""Training-time augmentation and target options (seed 003's MERC2020 recipe), for every model and task.

- :mod:`label_smoothing`: ``--label_smoothing`` on the cross-entropy losses, as Keras defines it;
- :mod:`mixup`: ``--mixup_alpha``/``--mixup_prob``, convex combinations of batch pairs (inputs, masks, targets);
- :mod:`masking`: ``--time_mask``/``--feature_mask`` SpecAugment-style spans zeroed on any modality;
- :mod:`class_weight`: ``--class_weight balanced`` as per-segment loss weights;
- :mod:`dataset`: :func:`for_training` maps those onto the *training* ``tf.data`` pipeline only
  (validation, test and predict never see them).
"""

from mmer_tf.augment.class_weight import balanced_class_weights
from mmer_tf.augment.dataset import check_config, for_training
from mmer_tf.augment.label_smoothing import training_loss
from mmer_tf.augment.masking import feature_mask_spans, span_mask, time_mask_spans
from mmer_tf.augment.mixup import mix

__all__ = ["balanced_class_weights", "check_config", "feature_mask_spans", "for_training", "mix", "span_mask",
           "time_mask_spans", "training_loss"]
