"""The hooks ``experiment.run`` and ``predict`` call when ``--finetune`` is given.

Why one module of hooks: the runner and predict stay as they are, with one call each where fine-tuning
changes a step: the cached features are loaded without the fine-tuned modality (:func:`feature_config`),
the folds get their frame streams (:func:`attach`), the model is built around the chosen one
(:func:`build_model`), and predict decodes new clips' frames the way training cached them
(:func:`predict_segments`).
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.finetune import frames as frame_cache
from mmer_tf.finetune.spec import FLAG, FinetuneSpec, check_config

log = logging.getLogger("mmer_tf")


@dataclass
class Encoder:
    """One fine-tuned stream: its spec, the loaded backbone (top blocks trainable), converter, frame params."""

    spec: FinetuneSpec
    backbone: object
    converter: object
    frames: frame_cache.FrameParams
    trained: list
    frozen: list


def feature_config(config):
    """``config`` with the fine-tuned modalities left out of ``--modalities``: what the feature caches load."""
    tuned = {spec.modality for spec in check_config(config)}
    if not tuned:
        return config
    return dataclasses.replace(config, modalities=tuple(m for m in config.modalities if m not in tuned))


def _frame_params(converter, preset: str, fps: float, face_crop: bool) -> frame_cache.FrameParams:
    size = getattr(converter, "image_size", None)
    if not size or size[0] is None or int(size[0]) != int(size[1]):
        raise MmerError(f"{FLAG} vision=kh:{preset}: its image converter has no square image_size "
                        f"({size}); the frames are cached at the backbone's input size")
    return frame_cache.FrameParams(size=int(size[0]), fps=float(fps), face_crop=bool(face_crop))


def load_encoders(config) -> dict[str, Encoder]:
    """Each ``--finetune`` stream's backbone and converter from its preset, the top N blocks trainable."""
    from mmer_tf.data.corpora import media
    from mmer_tf.features import kh
    from mmer_tf.finetune import top_blocks

    recipe = media.recipe_from_config(config)
    out = {}
    for spec in check_config(config):
        backbone = kh._load("backbone", spec.preset, FLAG)
        # first: a backbone of another family is refused before its preprocessing layer is looked for
        trained, frozen = top_blocks.train_top(backbone, spec.preset, spec.blocks, spec.modality)
        total = top_blocks.count(backbone, spec.preset, spec.modality)
        if spec.modality == "audio":
            converter = kh._load("audio", spec.preset, FLAG)
            params = _mel_params(converter, spec.preset)
            backbone = _encoder_half(backbone)
            shape = f"log-mel frames of {params.step[0][0]} bands"
        else:
            converter = kh._load("image", spec.preset, FLAG)
            params = _frame_params(converter, spec.preset, recipe.fps, recipe.face_crop)
            shape = f"frames {params.size}x{params.size} at {params.fps:g} fps"
        out[spec.modality] = Encoder(spec, backbone, converter, params, trained, frozen)
        log.info("finetune: %s: %s, top %d of %d blocks trained (%d layers), %s", spec.modality, spec.preset,
                 spec.blocks, total, len(trained), shape)
    return out


def _mel_params(converter, preset: str) -> frame_cache.MelParams:
    from mmer_tf.features.media import SAMPLE_RATE

    rate = int(getattr(converter, "sampling_rate", SAMPLE_RATE))
    if rate != SAMPLE_RATE or not hasattr(converter, "stride") or not hasattr(converter, "num_mels"):
        raise MmerError(f"{FLAG} audio=kh:{preset}: needs a Whisper-style audio converter at {SAMPLE_RATE} Hz")
    return frame_cache.MelParams.of(converter)


def _encoder_half(backbone):
    """A Whisper backbone's encoder (log-mel frames -> encoder states) as a functional model sharing its layers."""
    import keras

    return keras.Model(backbone.input["encoder_features"], backbone.output["encoder_sequence_output"],
                       name="whisper_encoder")


def corpus_clips(segment_info: Mapping) -> dict:
    """``{clip id: Clip}`` of a raw-media corpus, from its featurized folder's ``clips.csv``."""
    from mmer_tf.data.corpora import media

    folder = segment_info.get("featurized")
    if not folder:
        raise MmerError(f"{FLAG}: needs a raw-media corpus (RAVDESS, CREMA-D, IEMOCAP, MELD, a video folder): "
                        "the frames are decoded from its media")
    folder = Path(folder)
    root = Path(media.read_marker(folder).get("source", folder))
    clips = {}
    for row in media.read_clips_csv(folder / media.CLIPS_CSV):
        meta = {k: v for k, v in row.items() if k not in ("id", "media", "text")}
        for key in ("video",):
            if meta.get(key) and not Path(meta[key]).is_absolute():
                meta[key] = str(root / meta[key])
        path = Path(row["media"])
        record = media.ClipRecord(id=row["id"], media=path if path.is_absolute() else root / path,
                                  text=row.get("text") or None, meta=meta)
        clips[row["id"]] = media.clip_of(record)
    return clips


def attach(config, folds: Mapping, info: dict, encoders: Mapping[str, Encoder]):
    """``(folds, {fold: [FrameStream, ...]})``: every segment's frames cached; segments without any left out.

    Records the frame parameters in ``info["finetune"]`` (predict's sidecar takes them from there).
    """
    from mmer_tf.finetune.stream import FrameStream

    if getattr(folds["train"], "frame_labels", None) is not None:
        raise MmerError(f"{FLAG}: a corpus labelled per frame is not supported (one label per clip only)")
    clips = corpus_clips(folds["train"].info)
    wanted = {sid.split("[")[0] for fold in folds.values() for sid in fold.ids}
    missing = sorted(wanted - set(clips))
    if missing:
        raise MmerError(f"{FLAG}: segments {missing[:3]} have no clip in the featurized folder's clips.csv")
    found = {}
    for m, encoder in encoders.items():
        paths, failed = frame_cache.ensure([clips[c] for c in sorted(wanted)], encoder.frames,
                                           config.pickle_folder)
        if failed:
            log.warning("finetune: %d clip(s) without %s frames left out (e.g. %s)", len(failed), m,
                        "; ".join(f"{k}: {v}" for k, v in list(failed.items())[:3]))
        found[m] = paths
        info.setdefault("finetune", {})[m] = {"preset": encoder.spec.preset, "blocks": encoder.spec.blocks,
                                              **dataclasses.asdict(encoder.frames),
                                              "cache_folder": str(encoder.frames.folder(config.pickle_folder))}
    out, streams = {}, {}
    for name, fold in folds.items():
        keep = [i for i, sid in enumerate(fold.ids) if all(sid.split("[")[0] in p for p in found.values())]
        fold = fold if len(keep) == len(fold) else fold.subset(keep)
        out[name] = fold
        streams[name] = [FrameStream(m, [found[m][sid.split("[")[0]] for sid in fold.ids], e.frames.step)
                         for m, e in encoders.items()]
    folds = out
    return folds, streams


def prepare(config, folds: Mapping, info: dict):
    """``(folds, encoders, {fold: streams})``: the runner's one call; unchanged folds and no streams without
    ``--finetune``."""
    if not check_config(config):
        return folds, {}, {}
    encoders = load_encoders(config)
    folds, streams = attach(config, folds, info, encoders)
    return folds, encoders, streams


def build_model(config, feature_dims: Mapping[str, int], encoders: Mapping[str, Encoder], num_outputs: int, *,
                aligned: bool):
    from mmer_tf.finetune import model

    return model.build(config, feature_dims, encoders, num_outputs, aligned=aligned)


def sidecar_entry(info: Mapping) -> dict | None:
    return info.get("finetune") or None


def predict_segments(clips, sidecar: Mapping, featurize_segments, normalize):
    """``(SegmentSet, streams, failed)`` for new clips: cached modalities featurized as in training, the
    fine-tuned ones decoded into a temporary frame cache with the training run's parameters."""
    from mmer_tf.data.segments import SegmentSet
    from mmer_tf.finetune.stream import FrameStream

    tuned = dict(sidecar["finetune"])
    rest = [m for m in sidecar["modalities"] if m not in tuned]
    if rest:
        segments, failed = featurize_segments(clips, {**sidecar, "modalities": rest})
        segments = normalize(segments, sidecar)
    else:
        segments = SegmentSet(ids=[c.id for c in clips], features={},
                              labels=np.zeros((len(clips), 1), np.float32), aligned=bool(sidecar["aligned"]))
        failed = {}
    by_id = {c.id: c for c in clips}
    scratch = tempfile.mkdtemp(prefix="mmer_frames_")
    paths: dict[str, dict] = {}
    for m, entry in tuned.items():
        if m == "audio":
            params = frame_cache.MelParams(converter=entry["converter"])
        else:
            params = frame_cache.FrameParams(size=int(entry["size"]), fps=float(entry["fps"]),
                                             face_crop=bool(entry["face_crop"]), max_frames=int(entry["max_frames"]))
        found, bad = frame_cache.ensure([by_id[c] for c in segments.ids], params, scratch)
        for cid, reason in bad.items():
            failed.setdefault(cid, f"{m} frames: {reason}")
        paths[m] = (found, params.step)
    keep = [i for i, cid in enumerate(segments.ids) if all(cid in found for found, _ in paths.values())]
    segments = segments.subset(keep)
    streams = [FrameStream(m, [found[cid] for cid in segments.ids], step) for m, (found, step) in paths.items()]
    return segments, streams, failed


__all__ = ["Encoder", "attach", "prepare", "build_model", "corpus_clips", "feature_config", "load_encoders",
           "predict_segments", "sidecar_entry"]
