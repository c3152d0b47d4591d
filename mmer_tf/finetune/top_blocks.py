"""What "the top N blocks" of a KerasHub backbone is, and freezing everything below them.

Why per family: a backbone's trainable depth is only meaningful in its own units. A block here is the unit
the architecture repeats:

- **ResNet** (``ResNetBackbone``, basic or bottleneck blocks, v1 and v2): one residual block, the layers named
  ``stack<i>_block<j>_...``, in network order (ResNet-18 has 8, ResNet-50 has 16). Layers after the last
  block (ResNet v2's ``post_bn``/``post_relu``) train with the top block.
- **ViT** (``ViTBackbone``): one transformer encoder layer of its ``vit_encoder`` (``transformer_block_<k>``;
  ViT-B has 12); the encoder's final layer norm trains with the top block.
- **Whisper** (``WhisperBackbone``, audio): one layer of its encoder (``transformer_encoder_layer_<k>``; Whisper
  base has 6, small 12); the encoder's final layer norm trains with the top block; the stem is the two
  convolutions and the position embedding. The decoder is not used.

Everything else (the stem, the patch and position embeddings, the lower blocks) is frozen; frozen batch
normalisation layers run in inference mode, so their statistics stay as the preset has them. ``N = 0``
freezes the whole backbone (the transformer over time still trains); ``N`` = all blocks trains the whole
backbone, stem included (seed 004's fifth iteration). Any other backbone, or ``N`` above the count, is
one ``error:`` line.
"""

from __future__ import annotations

import re

from mmer_tf.errors import MmerError

_RESNET_BLOCK = re.compile(r"^(stack\d+_block\d+)_")


def _resnet_units(backbone) -> tuple[list, list[list], list]:
    """``(stem layers, [layers of each block], layers after the last block)`` of a ResNet-style backbone."""
    stem, blocks, after = [], {}, []
    order: list[str] = []
    for layer in backbone.layers:
        match = _RESNET_BLOCK.match(layer.name)
        if match:
            if match.group(1) not in blocks:
                blocks[match.group(1)] = []
                order.append(match.group(1))
            blocks[match.group(1)].append(layer)
        elif order:
            after.append(layer)
        else:
            stem.append(layer)
    return stem, [blocks[name] for name in order], after


def _vit_units(backbone) -> tuple[list, list[list], list]:
    encoder = backbone.get_layer("vit_encoder")
    stem = [layer for layer in backbone.layers if layer is not encoder]
    return stem, [[layer] for layer in encoder.encoder_layers], [encoder.layer_norm]


_WHISPER_BLOCK = re.compile(r"^transformer_encoder_layer_(\d+)$")


def _whisper_units(backbone) -> tuple[list, list[list], list]:
    """The encoder half only (the decoder is not used): conv stem + position embedding, encoder layers, norm."""
    blocks = sorted((layer for layer in backbone.layers if _WHISPER_BLOCK.match(layer.name)),
                    key=lambda layer: int(_WHISPER_BLOCK.match(layer.name).group(1)))
    head = [layer for layer in backbone.layers if layer.name == "encoder_layer_norm"]
    stem = [layer for layer in backbone.layers if layer.name.startswith("encoder_") and layer not in head]
    return stem, [[layer] for layer in blocks], head


FAMILIES = {"vision": {"ResNetBackbone": _resnet_units, "ViTBackbone": _vit_units},
            "audio": {"WhisperBackbone": _whisper_units}}


def units(backbone, preset: str, modality: str = "vision") -> tuple[list, list[list], list]:
    """The backbone split into stem, blocks (bottom to top) and head; an unsupported family is one line."""
    family = type(backbone).__name__
    served = FAMILIES.get(modality, {})
    if family not in served:
        raise MmerError(f"--finetune {modality}=kh:{preset}: a {family} is not a supported {modality} backbone to "
                        f"fine-tune (supported: {', '.join(sorted(served))})")
    stem, blocks, head = served[family](backbone)
    if not blocks:
        raise MmerError(f"--finetune {modality}=kh:{preset}: no blocks found in this {family}")
    return stem, blocks, head


def count(backbone, preset: str, modality: str = "vision") -> int:
    return len(units(backbone, preset, modality)[1])


def train_top(backbone, preset: str, n: int, modality: str = "vision") -> tuple[list[str], list[str]]:
    """Make only the top ``n`` blocks (and the layers above them) trainable.

    Returns the names of the layers trained and of those frozen (what
    :class:`~mmer_tf.models.blocks.frames.FrameSequenceEncoder` records, so a reloaded model is frozen alike).
    """
    stem, blocks, head = units(backbone, preset, modality)
    if n > len(blocks):
        raise MmerError(f"--finetune {modality}=kh:{preset}:{n}: this {type(backbone).__name__} has only "
                        f"{len(blocks)} blocks")
    backbone.trainable = True  # the containers stay trainable; what is frozen is frozen layer by layer
    trained = blocks[len(blocks) - n:] if n else []
    frozen = [layer for block in blocks[:len(blocks) - n] for layer in block]
    if n < len(blocks):
        frozen += stem
    if n == 0:
        frozen += head
    for layer in frozen:
        layer.trainable = False
    names = [layer.name for block in trained for layer in block]
    if n:
        names += [layer.name for layer in head] + ([layer.name for layer in stem] if n == len(blocks) else [])
    return names, [layer.name for layer in frozen]


__all__ = ["FAMILIES", "count", "train_top", "units"]
