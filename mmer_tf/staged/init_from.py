"""``--init_from audio=RUN.keras,vision=...``: start each branch of a fusion model from a unimodal run.

Every weighted layer of the target's ``<modality>_`` branch (see :mod:`mmer_tf.staged.branches`) takes the
weights of the layer of the same name in the source model; the source must have exactly those layers, with
the same shapes. Any difference is one line naming the layer, and nothing is loaded half-way: all
arrays are checked before the first one is assigned.
"""

from __future__ import annotations

from pathlib import Path

from mmer_tf.errors import MmerError
from mmer_tf.staged.branches import weighted_branch_layers


def parse_init_from(entries, modalities) -> dict[str, str]:
    """``("audio=a.keras", ...)`` -> ``{"audio": "a.keras"}``, checked against the run's modalities."""
    found: dict[str, str] = {}
    for entry in entries:
        modality, sep, path = str(entry).partition("=")
        modality, path = modality.strip(), path.strip()
        if not sep or not modality or not path:
            raise MmerError(f"--init_from: {entry!r} is not modality=RUN.keras")
        if modality not in modalities:
            raise MmerError(f"--init_from {entry}: {modality} is not among --modalities {','.join(modalities)}")
        if modality in found:
            raise MmerError(f"--init_from: {modality} given twice")
        if not path.endswith(".keras"):
            raise MmerError(f"--init_from {entry}: expects a saved .keras model")
        found[modality] = path
    return found


def load_branches(model, sources: dict[str, str]) -> dict[str, list[str]]:
    """Copy each modality's branch weights into ``model`` from the saved model at ``sources[modality]``.

    Returns ``{modality: [layer names loaded]}``.
    """
    from mmer_tf import train

    plan = []
    loaded: dict[str, list[str]] = {}
    for modality, path in sources.items():
        if not Path(path).is_file():
            raise MmerError(f"--init_from {modality}={path}: no saved model there")
        source = train.load_model(path)
        targets = weighted_branch_layers(model, modality)
        if not targets:
            raise MmerError(f"--init_from {modality}={path}: -mn {model.name} has no {modality}_ layers with "
                            "weights to load")
        wanted = {layer.name for layer in targets}
        extra = [layer.name for layer in weighted_branch_layers(source, modality) if layer.name not in wanted]
        if extra:
            raise MmerError(f"--init_from {modality}={path}: layer {extra[0]} of that model has no "
                            f"counterpart in -mn {model.name} (different architecture or settings)")
        for layer in targets:
            try:
                other = source.get_layer(layer.name)
            except ValueError:
                raise MmerError(f"--init_from {modality}={path}: layer {layer.name} is not in that model") from None
            arrays = other.get_weights()
            shapes = [tuple(w.shape) for w in layer.weights]
            if [tuple(a.shape) for a in arrays] != shapes:
                raise MmerError(f"--init_from {modality}={path}: layer {layer.name} has weights "
                                f"{[tuple(a.shape) for a in arrays]} there, {shapes} here")
            plan.append((layer, arrays))
            loaded.setdefault(modality, []).append(layer.name)
    for layer, arrays in plan:
        layer.set_weights(arrays)
    return loaded
