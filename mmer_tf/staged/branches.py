"""Per-modality branches and the fused embedding, found in any model by layer names.

The convention (docs/MODELS.md; ``mmer_tf.models.registry``): every layer that reads one modality only is
named ``<modality>_...`` (``audio_dense1``, ``vision_bilstm1``, ``text_token``), and no other layer starts
with a modality name and an underscore. Then

- a modality's *branch* is every such layer, matched by name between a unimodal and a fusion model;
- its *branch output* is the output of its last layer (in the model's topological order) whose output
  is one vector per segment (``[B, F]``), e.g. ``audio_bilstm1`` in ``lf_lstm``, ``audio_token`` in
  ``attn_fusion``; a branch with no such layer (early fusion) has no output to put a head on;
- the *fused embedding* is the input of the output head's first layer, ``head_dense`` (see
  ``models.ef_lstm.dense_head``), which is what ``attn_fusion`` calls ``fused``.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError

HEAD_LAYER = "head_dense"


def branch_layers(model, modality: str) -> list:
    """The layers of ``modality``'s branch, in the model's order."""
    import keras

    prefix = f"{modality}_"
    return [layer for layer in model.layers
            if layer.name.startswith(prefix) and not isinstance(layer, keras.layers.InputLayer)]


def weighted_branch_layers(model, modality: str) -> list:
    """The branch layers that hold weights (what ``--init_from`` copies and ``--freeze_branches`` freezes)."""
    return [layer for layer in branch_layers(model, modality) if layer.weights]


def branch_output(model, modality: str):
    """The symbolic ``[B, F]`` tensor that summarises ``modality`` in ``model``."""
    for layer in reversed(branch_layers(model, modality)):
        output = layer.output
        if not isinstance(output, (list, tuple, dict)) and len(output.shape) == 2:
            return output
    raise MmerError(f"-mn {model.name}: has no per-modality branch output for {modality} (no layer named "
                    f"{modality}_... gives one vector per segment); --aux_loss needs a late-fusion model "
                    "(lf_dnn, lf_lstm, attn_fusion, ...)")


def fused_embedding(model):
    """The symbolic input of the output head (``head_dense``): the fused representation."""
    try:
        layer = model.get_layer(HEAD_LAYER)
    except ValueError:
        raise MmerError(f"-mn {model.name}: exposes no fused embedding (no layer named {HEAD_LAYER}); "
                        "--triplet_margin needs one") from None
    return layer.input

