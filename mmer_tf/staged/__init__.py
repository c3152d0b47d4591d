"""Staged fusion and extra training losses (seeds 003 and 000), for any model that follows the branch
naming convention (:mod:`mmer_tf.staged.branches`).

``mmer_tf.experiment`` calls, in order: :func:`prepare` (``--init_from``: branch weights from unimodal
runs; returns the model to train, the model itself or a :class:`~mmer_tf.staged.view.TrainingView` with
``--aux_loss`` heads and the ``--triplet_margin`` loss), and ``train.callbacks_for`` adds
:func:`callbacks` (``--freeze_branches``).
"""

from __future__ import annotations

import logging

from mmer_tf.errors import MmerError
from mmer_tf.staged.init_from import load_branches, parse_init_from
from mmer_tf.staged.triplet import batch_hard_triplet_loss, parse_margin

log = logging.getLogger("mmer_tf")


def __getattr__(name: str):
    # The Keras layers and callbacks load on first use: main.py checks these flags (check_flags) before it
    # imports the backend.
    if name == "FreezeBranches":
        from mmer_tf.staged.freeze import FreezeBranches

        return FreezeBranches
    if name == "TrainingView":
        from mmer_tf.staged.view import TrainingView

        return TrainingView
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_aux_loss(entries, modalities) -> dict[str, float]:
    """``("audio=4", "vision=0")`` -> ``{"audio": 4.0, "vision": 0.0}``, checked against the modalities."""
    found: dict[str, float] = {}
    for entry in entries:
        modality, sep, value = str(entry).partition("=")
        modality = modality.strip()
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or not modality or not weight >= 0:
            raise MmerError(f"--aux_loss: {entry!r} is not modality=WEIGHT with WEIGHT >= 0")
        if modality not in modalities:
            raise MmerError(f"--aux_loss {entry}: {modality} is not among --modalities {','.join(modalities)}")
        if modality in found:
            raise MmerError(f"--aux_loss: {modality} given twice")
        found[modality] = weight
    return found


def check_flags(config) -> None:
    """One-line errors for the staged-fusion and triplet flags that need no backend (imports no Keras)."""
    sources = parse_init_from(config.init_from, config.modalities)
    parse_aux_loss(config.aux_loss, config.modalities)
    if int(config.freeze_branches) < 0:
        raise MmerError(f"--freeze_branches must be >= 0, got {config.freeze_branches}")
    if int(config.freeze_branches) > 0 and not sources:
        raise MmerError("--freeze_branches: freezes the --init_from branches; give --init_from")
    if int(config.freeze_branches) > 0:
        from mmer_tf.distributed import configured_backend

        _check_freeze_backend(configured_backend())
    if config.triplet_margin:
        parse_margin(config.triplet_margin)
        if config.label_type != "category":
            raise MmerError("--triplet_margin: the triplet loss needs one class per segment (-lt category)")
    if float(config.triplet_weight) < 0:
        raise MmerError(f"--triplet_weight must be >= 0, got {config.triplet_weight:g}")


def check_config(config) -> None:
    """One-line errors for the staged-fusion and triplet flags (run before any data is read)."""
    check_flags(config)
    if int(config.freeze_branches) > 0:
        import keras

        _check_freeze_backend(keras.backend.backend())


def _check_freeze_backend(backend: str) -> None:
    if backend != "tensorflow":
        # Keras' JAX optimiser insists on the variable list it was built with: no mid-fit freezing there
        raise MmerError(f"--freeze_branches: needs the TensorFlow backend (this run uses {backend})")


def prepare(model, config, output_kind: str, num_outputs: int, loss):
    """Load ``--init_from`` branches into ``model``; return the model to compile and fit.

    ``loss`` is the task loss (name or Keras loss object) the auxiliary heads reuse.
    """
    check_config(config)
    sources = parse_init_from(config.init_from, config.modalities)
    if sources:
        loaded = load_branches(model, sources)
        for modality, names in loaded.items():
            log.info("--init_from: %s branch (%d layers) loaded from %s", modality, len(names), sources[modality])
    aux = parse_aux_loss(config.aux_loss, config.modalities)
    triplet = bool(config.triplet_margin)
    if not aux and not triplet:
        return model
    if triplet and output_kind != "classes":
        raise MmerError("--triplet_margin: the triplet loss needs one class per segment (-lt category)")
    if len(model.output.shape) != 2:
        raise MmerError("--aux_loss/--triplet_margin: need one prediction per segment; this run predicts every "
                        "frame (a corpus labelled per frame)")
    from mmer_tf.staged.view import TrainingView

    return TrainingView(model, aux_weights=aux, aux_loss=loss, num_outputs=num_outputs,
                        final_activ=config.final_activ,
                        triplet_margin=parse_margin(config.triplet_margin) if triplet else None,
                        triplet_weight=float(config.triplet_weight), use_triplet=triplet)


def callbacks(config) -> list:
    """``--freeze_branches N``: the callback freezing the ``--init_from`` branches (none otherwise)."""
    if int(config.freeze_branches) <= 0 or not config.init_from:
        return []
    from mmer_tf.staged.freeze import FreezeBranches

    return [FreezeBranches(parse_init_from(config.init_from, config.modalities), int(config.freeze_branches))]


__all__ = ["FreezeBranches", "TrainingView", "batch_hard_triplet_loss", "callbacks", "check_config", "check_flags",
           "load_branches", "parse_aux_loss", "parse_init_from", "parse_margin", "prepare"]
