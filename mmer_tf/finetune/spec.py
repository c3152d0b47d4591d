"""``--finetune vision=kh:<preset>:<N>`` / ``audio=kh:<preset>:<N>``: parsed and checked without Keras.

Why here and Keras-free: a typo in the flag must be one ``error:`` line in under a second, before the
backend loads or any data is read, like every other flag (``cli_flags.parse_config``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mmer_tf.errors import MmerError

FLAG = "--finetune"
#: modality -> the encoder family it accepts (what a wrong preset is refused against, at build time)
SERVED = {"vision": "a KerasHub image backbone (ResNet, ViT)", "audio": "a KerasHub Whisper preset's encoder"}
SYNTAX = "vision=kh:<preset>:<N> or audio=kh:<preset>:<N> (N: the top blocks trained, 0 = frozen)"


@dataclass(frozen=True)
class FinetuneSpec:
    """One fine-tuned stream: the modality it replaces, the KerasHub preset and how many top blocks train."""

    modality: str
    preset: str
    blocks: int

    @property
    def text(self) -> str:
        return f"{self.modality}=kh:{self.preset}:{self.blocks}"


def parse(entry: str) -> FinetuneSpec:
    """``vision=kh:<preset>:<N>`` -> :class:`FinetuneSpec`; a malformed entry is one line naming the flag."""
    from mmer_tf.features import kh

    modality, sep, spec = str(entry).strip().partition("=")
    modality = modality.strip()
    if not sep or not spec.strip():
        raise MmerError(f"{FLAG} {entry}: expected {SYNTAX}")
    if modality not in SERVED:
        raise MmerError(f"{FLAG} {entry}: {modality!r} cannot be fine-tuned (expected {SYNTAX})")
    spec = spec.strip()
    if not spec.startswith(kh.PREFIX):
        raise MmerError(f"{FLAG} {entry}: expected {SYNTAX}; only KerasHub presets (kh:) are fine-tuned")
    body, colon, count = spec.rpartition(":")
    if not colon or body == "kh" or not count.strip().isdigit():
        raise MmerError(f"{FLAG} {entry}: needs the number of top blocks to train after the preset "
                        f"(kh:<preset>:<N>, e.g. kh:resnet_18_imagenet:2)")
    kh.check_spec(body, FLAG)
    preset = kh.preset_of(body)
    if "/" in preset and not preset.startswith(kh.REMOTE_SCHEMES) and not kh.is_local(preset):
        raise MmerError(f"{FLAG} {entry}: no such preset folder {preset}")
    return FinetuneSpec(modality=modality, preset=preset, blocks=int(count))


def specs_of(config) -> tuple[FinetuneSpec, ...]:
    """The run's fine-tuned streams (none without ``--finetune``)."""
    return tuple(parse(entry) for entry in getattr(config, "finetune", ()) or ())


def check_config(config) -> tuple[FinetuneSpec, ...]:
    """The flag against the rest of the run: each modality once, and among ``--modalities``."""
    specs = specs_of(config)
    if specs and getattr(config, "dataset_folder", None) is None:
        raise MmerError(f"{FLAG}: needs a raw-media corpus (-df RAVDESS/, CREMA-D/, IEMOCAP/, MELD/ or a video "
                        "folder): the frames are decoded from its media, and the built-in sample has none")
    seen = set()
    for spec in specs:
        if spec.modality in seen:
            raise MmerError(f"{FLAG}: {spec.modality} is given twice")
        seen.add(spec.modality)
        if spec.modality not in config.modalities:
            raise MmerError(f"{FLAG} {spec.text}: {spec.modality} is not among --modalities "
                            f"({','.join(config.modalities)})")
    return specs


__all__ = ["FLAG", "FinetuneSpec", "check_config", "parse", "specs_of"]
