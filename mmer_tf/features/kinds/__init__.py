"""Feature recipe kinds: one module per kind (``logmel``, ``offline``, ``hub:``, ``opensmile:``, ``kh:`` ...).

A recipe field (``--audio``, ``--text``, ``--video``; ``--*_recipe`` in ``main.py``) is a spec
``<kind>[:<arguments>]`` or ``none``. Each module of this package (or of ``MMER_PLUGINS``, see
:mod:`mmer_tf.plugins`) that defines ``KIND = RecipeKind(...)`` is a kind; the registry below is the only
list: the spec checks in :class:`~mmer_tf.features.recipe.Recipe`, the encoders that
``audio.encode_audio``, ``text.encode_text`` and ``video.encode_video`` run, the pretrained-weights part
of the recipe fingerprint, and the flags' help strings all come from it. So a new encoder is one file
here, nothing else.

A kind serves any of the three modalities by giving a function for it:

* ``audio(wave, recipe) -> (intervals [T, 2] s, features [T, D])`` for a 16 kHz mono float32 waveform;
* ``text(text, duration, recipe) -> (intervals, features)`` for a transcript and the clip's duration;
* ``video(recipe) -> FrameEncoder``: ``prepare(face_rgb)`` (grey when the encoder says ``grey``) per sampled (cropped) frame, then
  ``encode([prepared, ...]) -> [B, D]`` per batch of frames; the frame sampling, face crop and
  timestamps are shared (``features/video.py``).

Implementations are imported inside those functions, so reading the registry (for ``--help``) never
loads TensorFlow or a model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from mmer_tf.errors import MmerError

PACKAGE = __name__
MODALITIES = ("audio", "text", "video")  # the Recipe's fields, in flag order


@dataclass(frozen=True)
class FrameEncoder:
    """A video kind's encoder for one recipe: ``prepare`` one face crop (uint8 RGB), ``encode`` a batch.

    ``grey``: the encoder needs grey levels only; its frames are then read as the decoded luma plane and
    its crops are grey ``[H, W]`` (the RGB conversion of a 720p frame costs more than decoding it)."""

    prepare: Callable[[Any], Any]
    encode: Callable[[list], Any]
    grey: bool = False


@dataclass(frozen=True)
class RecipeKind:
    """One way of turning media into feature rows; see the module docstring for the function contracts."""

    name: str                                   # the spec's first ``:`` field (``hub`` in ``hub:<path>``)
    syntax: Mapping[str, str]                   # modality -> how its spec is written, for help and errors
    check: Callable[[str, str, str], None] | None = None  # (modality, spec, flag) -> MmerError; None: no args
    audio: Callable | None = None
    text: Callable | None = None
    video: Callable | None = None
    weights: Callable[[str, str], str] | None = None  # (spec, flag) -> fingerprint of its pretrained files
    doc: str = ""                               # one line for the docs
    modalities: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", tuple(m for m in MODALITIES if getattr(self, m) is not None))
        missing = [m for m in self.modalities if m not in self.syntax]
        if missing:
            raise MmerError(f"recipe kind {self.name!r}: no syntax for {', '.join(missing)}")


def _kinds_in(module) -> tuple[RecipeKind, ...]:
    kind = getattr(module, "KIND", None)
    return (kind,) if isinstance(kind, RecipeKind) else ()


def kinds() -> dict[str, RecipeKind]:
    """``{name: RecipeKind}`` of every registered kind (this package's modules, then ``MMER_PLUGINS``)."""
    from mmer_tf import plugins

    return plugins.members(PACKAGE, _kinds_in, lambda kind: kind.name, "recipe kind")


def _default(modality: str) -> str:
    from mmer_tf.features.recipe import Recipe

    return {f.name: f.default for f in dataclasses.fields(Recipe)}[modality]


def help_text(modality: str) -> str:
    """``logmel, hub:<model>, ..., none``: every spec ``modality`` accepts, its default first."""
    default = _default(modality).split(":")[0]
    served = sorted((k for k in kinds().values() if modality in k.modalities), key=lambda k: (k.name != default,
                                                                                              k.name))
    return ", ".join([k.syntax[modality] for k in served] + ["none"])


def kind_of(modality: str, spec: str, flag: str | None = None) -> RecipeKind | None:
    """The kind of ``spec`` for ``modality`` (``None`` for ``none``), checked; errors name ``flag``."""
    flag = flag or f"--{modality}"
    if spec == "none":
        return None
    name, sep, _ = spec.partition(":")
    kind = kinds().get(name)
    if kind is None or modality not in kind.modalities:
        raise MmerError(f"{flag} {spec}: unknown recipe ({help_text(modality)})")
    if kind.check is not None:
        kind.check(modality, spec, flag)
    elif sep:
        raise MmerError(f"{flag} {spec}: {name} takes no arguments ({kind.syntax[modality]})")
    return kind


def encoder(modality: str, spec: str) -> Callable:
    """The function that encodes ``modality`` for ``spec`` (see the module docstring)."""
    kind = kind_of(modality, spec)
    if kind is None:
        raise ValueError(f"no {modality} encoder for recipe 'none'")
    return getattr(kind, modality)


def weights(modality: str, spec: str) -> str | None:
    """A fingerprint of the pretrained files ``spec`` uses, or ``None`` when it uses none."""
    kind = kind_of(modality, spec)
    if kind is None or kind.weights is None:
        return None
    return kind.weights(spec, f"--{modality}")


__all__ = ["FrameEncoder", "RecipeKind", "MODALITIES", "kinds", "help_text", "kind_of", "encoder", "weights"]
