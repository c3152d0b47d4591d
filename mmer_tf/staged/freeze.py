"""``--freeze_branches N``: the ``--init_from`` branches stay fixed for the first N epochs.

At the start of every epoch the callback sets the branch layers' ``trainable`` flag (frozen while
``epoch < N``) and, when that changes, rebuilds the train function so the change takes effect; the
optimiser is built on every variable beforehand, so unfreezing needs no new optimiser slots. The state
is a function of the epoch, so a resumed run freezes exactly as an uninterrupted one.
"""

from __future__ import annotations

import keras

from mmer_tf.staged.branches import weighted_branch_layers


class FreezeBranches(keras.callbacks.Callback):
    """Freeze the branches of ``modalities`` during epochs ``0 .. epochs - 1``."""

    def __init__(self, modalities, epochs: int):
        super().__init__()
        self.modalities = tuple(modalities)
        self.epochs = int(epochs)
        self._traced = None

    def _layers(self):
        model = getattr(self.model, "inference_model", self.model)
        return [layer for m in self.modalities for layer in weighted_branch_layers(model, m)]

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self._traced = None  # the frozen state the current train function was traced with (None: not yet)

    def _set(self, frozen: bool) -> None:
        for layer in self._layers():
            layer.trainable = not frozen

    def on_epoch_begin(self, epoch, logs=None):
        frozen = epoch < self.epochs
        self._set(frozen)
        if frozen != self._traced:
            self.model.make_train_function(force=True)
            self._traced = frozen

    def on_epoch_end(self, epoch, logs=None):
        # the traced step keeps its variable list; the flags go back so a checkpoint saved now (this callback
        # runs before it) stores trainable layers, and a resumed or reloaded model is an ordinary one
        self._set(False)

    def on_train_end(self, logs=None):
        self._set(False)
