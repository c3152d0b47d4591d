"""What to extract from each clip: :class:`Clip` (one utterance) and :class:`Recipe` (one encoder per modality).

A recipe is plain data so it can be written beside the features (``recipe.json``), recorded in
``model_ids.csv`` and saved with a model: ``predict`` must featurize a new clip exactly as the
training corpus was featurized, and a resumed run must never mix parts made by two recipes (the
parts folder is keyed by :meth:`Recipe.fingerprint`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from mmer_tf.errors import MmerError

# Bumped whenever an encoder's output changes for the same recipe, so stale parts are not reused.
FEATURES_VERSION = 4


@dataclass(frozen=True)
class Clip:
    """One utterance/segment of a corpus: its id (the ``.csd`` video id), media file and transcript.

    ``text=None`` means "no transcript": the clip then has no text features (use ``""`` to get the
    encoder's embedding of an empty utterance instead).

    ``video`` names a separate, longer video the clip's picture comes from (IEMOCAP: the utterance's
    sound is its own WAV, its picture a stretch of the dialog's split-screen video): the frames between
    ``video_start`` and ``video_end`` seconds of that file, restricted to its ``video_region`` (``left``
    or ``right`` half; empty: the whole frame), timed from ``video_start``.
    """

    id: str
    media: Path
    text: str | None = None
    video: Path | None = None
    video_start: float = 0.0
    video_end: float | None = None
    video_region: str = ""


@dataclass(frozen=True)
class Recipe:
    """One encoder per modality (``"none"`` drops the modality).

    audio: ``logmel`` | ``hub:<model>`` | ``opensmile:<set>[:lld|:functionals]`` | ``kh:<preset>`` (Whisper
           encoder) | ``none``
    text:  ``offline`` | ``vader`` | ``hub:<model>`` | ``hub:<preprocess>,<encoder>`` (BERT) | ``kh:<preset>`` |
           ``none``
    video: ``offline`` | ``fer`` | ``fer:embedding`` | ``hub:<model>`` | ``kh:<preset>`` | ``none``
    ``<model>`` is a local SavedModel folder or a TF Hub / Kaggle Models handle already downloaded on this
    machine (``features/hub_handles.py``); ``<preset>`` a KerasHub preset (``features/kh.py``).
    ``hub_output_key`` picks the waveform encoder's output (dict key, or tuple index such as ``"1"``
    for YAMNet's embeddings); ``hub_frame_hop`` is its frame hop in seconds (timestamps of the rows).
    ``text_output_key`` picks the text encoder's output (``pooled_output`` per utterance,
    ``sequence_output`` per token for BERT). ``image_size`` (0 = from the SavedModel's signature, else
    224) is the square input of a hub image encoder.
    """

    audio: str = "logmel"
    text: str = "offline"
    video: str = "offline"
    fps: float = 5.0
    face_crop: bool = True
    hub_output_key: str = ""
    hub_frame_hop: float = 0.48
    text_output_key: str = ""
    image_size: int = 0

    def __post_init__(self) -> None:
        from mmer_tf.features import kinds

        for modality in kinds.MODALITIES:
            kinds.kind_of(modality, getattr(self, modality))
        if not (self.fps > 0):
            raise MmerError(f"--fps {self.fps}: must be a positive frame rate")
        if not (self.hub_frame_hop > 0):
            raise MmerError(f"hub_frame_hop {self.hub_frame_hop}: must be positive seconds")
        if self.image_size < 0:
            raise MmerError(f"image_size {self.image_size}: must be 0 (from the model) or a positive size")

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "Recipe":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise MmerError(f"recipe: unknown field(s) {unknown} (known: {sorted(names)})")
        return cls(**dict(d))

    def fingerprint(self) -> str:
        """Short stable hash of the recipe, the encoders' version and the pretrained weights' files,
        naming its parts folder."""
        payload = json.dumps({"v": FEATURES_VERSION, **self.key_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def key_dict(self) -> dict:
        """:meth:`to_dict` plus a fingerprint of every pretrained model file it names (``kh:`` presets,
        the ``fer`` model), so the featurized key changes with the weights, not only with their name."""
        from mmer_tf.features import kinds

        weights = {}
        for modality in kinds.MODALITIES:
            fingerprint = kinds.weights(modality, getattr(self, modality))
            if fingerprint is not None:
                weights[modality] = fingerprint
        return {**self.to_dict(), **({"weights": weights} if weights else {})}

    @classmethod
    def parse(cls, audio: str | None = None, text: str | None = None, video: str | None = None,
              **options) -> "Recipe":
        """Build a recipe from command-line values (``None`` = default); errors name the flag."""
        values = {k: v for k, v in {"audio": audio, "text": text, "video": video, **options}.items()
                  if v is not None}
        for key in ("audio", "text", "video"):
            if key in values:
                values[key] = str(values[key]).strip()
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise MmerError(f"recipe: unknown option(s) {unknown}")
        for key, kind in (("fps", float), ("hub_frame_hop", float), ("image_size", int)):
            if key in values:
                try:
                    values[key] = kind(values[key])
                except (TypeError, ValueError):
                    raise MmerError(f"--{key} {values[key]!r}: not a number") from None
        if isinstance(values.get("face_crop"), str):
            flag = values["face_crop"].strip().lower()
            if flag not in ("1", "0", "true", "false", "yes", "no"):
                raise MmerError(f"--face_crop {values['face_crop']!r}: expected true or false")
            values["face_crop"] = flag in ("1", "true", "yes")
        return cls(**values)

    @property
    def modalities(self) -> tuple[str, ...]:
        """The ``.csd`` modalities this recipe produces, in the suite's order."""
        out = []
        if self.text != "none":
            out.append("text")
        if self.audio != "none":
            out.append("audio")
        if self.video != "none":
            out.append("vision")
        return tuple(out)


def _hub_paths(spec: str) -> list[str]:
    return [p.strip() for p in spec[len("hub:"):].split(",")]


def check_hub_path(path: str, flag: str) -> None:
    """A hub recipe names a local SavedModel or a TF Hub / Kaggle Models handle (checked for form here;
    resolved to its downloaded folder when loaded, since runs never download)."""
    from mmer_tf.features import hub_handles

    if not path:
        raise MmerError(f"{flag} hub: needs a SavedModel path or model handle after 'hub:'")
    if hub_handles.is_handle(path):
        hub_handles.parse(path, flag)


def hub_paths(spec: str, flag: str = "--hub") -> list[Path]:
    """The local SavedModel folder(s) of a ``hub:`` spec (handles resolved to where they were downloaded)."""
    from mmer_tf.features import hub_handles

    return [hub_handles.resolve(p, flag) if hub_handles.is_handle(p) else Path(p).expanduser()
            for p in _hub_paths(spec)]
