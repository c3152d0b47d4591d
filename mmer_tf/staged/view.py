"""The training view: one model that trains a suite model with auxiliary heads and a triplet loss.

``--aux_loss audio=4,vision=0`` puts a head (``Dense(outputs, -a)``, named ``aux_<modality>``) on each
listed branch's output and adds ``weight * loss(targets, head)`` to the loss, seed 003's
``--speech_coeff/--face_coeff``; ``--triplet_margin`` adds ``--triplet_weight *`` the triplet loss on the
fused embedding. The view shares every layer with the model it wraps (``inference_model``), so training
the view trains that model; the suite saves, reloads, evaluates and predicts with ``inference_model``
alone, whose outputs are exactly the model's: the extra heads never reach a table or a saved file.

The reported ``loss``/``val_loss`` are the total (task loss + weighted extras), the quantity trained;
metrics (``acc``, ``mae``) are the main output's. With every weight 0 the total equals the task loss.
"""

from __future__ import annotations

import keras
from keras import ops

from mmer_tf.staged.branches import branch_output, fused_embedding
from mmer_tf.staged.triplet import batch_hard_triplet_loss


class TrainingView(keras.Model):
    """``call`` returns ``(main output, *aux head outputs[, embedding])``; the loss adds the extras."""

    def __init__(self, model, *, aux_weights: dict[str, float], aux_loss, num_outputs: int, final_activ: str,
                 triplet_margin=None, triplet_weight: float = 0.0, use_triplet: bool = False):
        super().__init__(name=f"{model.name}_training_view")
        self.inference_model = model
        self.aux_weights = dict(aux_weights)
        self.aux_loss_fn = keras.losses.get(aux_loss) if isinstance(aux_loss, str) else aux_loss
        self.use_triplet = bool(use_triplet)
        self.triplet_margin = triplet_margin
        self.triplet_weight = float(triplet_weight)
        outputs = [model.output]
        for modality in self.aux_weights:
            outputs.append(keras.layers.Dense(int(num_outputs), activation=final_activ, dtype="float32",
                                              name=f"aux_{modality}")(branch_output(model, modality)))
        if self.use_triplet:
            outputs.append(fused_embedding(model))
        self.network = keras.Model(model.input, outputs, name=f"{model.name}_with_extras")

    def call(self, inputs, training=False):
        return tuple(self.network(inputs, training=training))

    def _weighted(self, loss_fn, y, y_pred, sample_weight):
        values = loss_fn(y, y_pred)
        if sample_weight is not None:
            weight = ops.cast(sample_weight, values.dtype)
            return ops.sum(values * weight) / ops.maximum(ops.cast(ops.size(values), values.dtype), 1.0)
        return ops.mean(values)

    def extra_loss(self, y, y_pred, sample_weight=None):
        """The weighted auxiliary and triplet terms for one batch (0 when every weight is 0)."""
        extras = list(y_pred[1:])
        total = ops.cast(0.0, "float32")
        for modality, weight in self.aux_weights.items():
            head = extras.pop(0)
            # a weight of 0 still multiplies (0 * finite = 0): the head is kept, its gradient is zero
            total = total + float(weight) * ops.cast(self._weighted(self.aux_loss_fn, y, head, sample_weight),
                                                     "float32")
        if self.use_triplet and self.triplet_weight:
            total = total + self.triplet_weight * batch_hard_triplet_loss(y, extras.pop(0), self.triplet_margin)
        return total

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        main = super().compute_loss(x, y, y_pred[0], sample_weight, training=training)
        return main + ops.cast(self.extra_loss(y, y_pred, sample_weight), main.dtype)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y, y_pred[0], sample_weight)
