"""Emotion of new clips with a trained model: ``python -m mmer_tf predict`` (:mod:`mmer_tf.cli.predict`).

    python -m mmer_tf predict --model models/<m>/<file>.keras [--out captioned.mp4] CLIP_OR_FOLDER ...

A model trained on a raw-media corpus (RAVDESS, MELD, a video folder) has a sidecar beside it,
``<file>.keras.recipe.json`` (:func:`save_model_sidecar`, written by the runner): the featurization
recipe, class names, the alignment view, modalities, ``-s``, and the normalisation with its training
statistics. Each clip is featurized with that recipe (:func:`mmer_tf.features.featurize_clip`), aligned
exactly as in training (:func:`mmer_tf.data.corpora.media.align_clips`), normalised with the saved
statistics and fed through the same input pipeline, so a clip gets the score the model gives it in a
run. Per clip it prints the per-class scores and the predicted (dominant) class, and writes a copy of
the video with that emotion captioned on every frame (OpenCV ``putText``) and the audio streams copied
unchanged (PyAV remux). For a folder (or several clips) the captioned copies go into the ``--out``
folder with ``predictions.csv``. Audio-only clips get scores but no captioned copy. A model that reads
text needs each clip's transcript: ``--text`` (one for all) or ``--transcripts file,text`` CSV.

Models trained on CMU-MOSEI/MOSI's distributed features (COVAREP, FACET, GloVe: not computable from
media here) or without a sidecar are refused in one line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.fileio import atomic_write_text, file_mode

SIDECAR_SUFFIX = ".recipe.json"
SIDECAR_FORMAT = 1


def raw_media_corpora() -> str:
    """The registry's raw-media corpora, as a phrase (``ravdess, meld or videos``)."""
    from mmer_tf.data import corpora

    names = corpora.raw_media_names()
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)


def sidecar_path(model_path: str | os.PathLike) -> Path:
    return Path(str(model_path) + SIDECAR_SUFFIX)


# ----------------------------------------------------------------------------------------------
# Sidecar (written at training time)
# ----------------------------------------------------------------------------------------------


def save_model_sidecar(model_path, config, info: Mapping, train_set=None, statistics: Mapping | None = None) -> Path:
    """Write ``<model_path>.recipe.json``: what :func:`predict_clips` needs to featurize like training.

    ``info`` is :func:`mmer_tf.data.dataset.load_folds`'s info, ``train_set`` the training fold (its
    ``info`` carries the recipe of a raw-media corpus). ``statistics`` (``{modality: {"mean", "std"}}``)
    defaults to ``info["normalization_statistics"]``, else the fold cache's manifest. Written for every
    run: a CMU run's sidecar records ``recipe: null``, which predict refuses with a clear message.
    """
    train_info = dict(getattr(train_set, "info", {}) or {})
    if statistics is None:
        statistics = info.get("normalization_statistics")
    if statistics is None and config.normalization == "train":
        from mmer_tf.data import cache

        manifest = cache.read_manifest(info["cache_path"]) if info.get("cache_path") else None
        statistics = ((manifest or {}).get("extra", {}).get("normalization", {}) or {}).get("statistics")
    payload = {
        "format": SIDECAR_FORMAT,
        "corpus": info.get("corpus"),
        "recipe": train_info.get("recipe") or None,
        "classes": list(info.get("classes") or train_info.get("classes") or []),
        "label_type": config.label_type,
        "final_activ": config.final_activ,
        "model_name": config.model_name,
        "modalities": list(config.modalities),
        "aligned": bool(getattr(train_set, "aligned", info.get("aligned", True))),
        "fixed_num_steps": int(config.fixed_num_steps),
        "finetune": info.get("finetune") or None,  # fine-tuned modalities: frame parameters (mmer_tf.finetune)
        "normalization": config.normalization,
        "statistics": {m: {k: np.asarray(v, np.float32).tolist() for k, v in s.items()}
                       for m, s in (statistics or {}).items()},
    }
    return atomic_write_text(sidecar_path(model_path), json.dumps(payload, indent=1), suffix=".partial")


def load_sidecar(model_path: str | os.PathLike) -> dict:
    """The sidecar of ``model_path``, or a one-line error saying why this model cannot predict from media."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise MmerError(f"--model {model_path}: no such model file")
    path = sidecar_path(model_path)
    if not path.is_file():
        raise MmerError(f"--model {model_path}: no {path.name} beside it, so the features it was trained on "
                        f"cannot be reproduced from media (train it on {raw_media_corpora()})")
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MmerError(f"{path}: unreadable sidecar ({exc})") from None
    corpus = sidecar.get("corpus")
    from mmer_tf.data import corpora

    if not sidecar.get("recipe") or corpus not in corpora.raw_media_names():
        raise MmerError(f"--model {model_path}: trained on {corpus or 'an unknown corpus'}'s precomputed features "
                        "(e.g. CMU-MOSEI's COVAREP/FACET/GloVe), which cannot be computed from media; predict "
                        f"needs a model trained on {raw_media_corpora()}")
    if sidecar.get("label_type") != "category" or not sidecar.get("classes"):
        raise MmerError(f"--model {model_path}: trained for -lt {sidecar.get('label_type')}; predict captions "
                        "one class per clip and needs a -lt category model")
    return sidecar


# ----------------------------------------------------------------------------------------------
# Featurize -> align -> normalise -> model
# ----------------------------------------------------------------------------------------------


def featurize_segments(clips: Sequence, sidecar: Mapping, recipe=None):
    """``(SegmentSet of the clips that yielded every modality, {clip id: reason} for the others)``."""
    from mmer_tf.data.align import AlignReport, MemorySource
    from mmer_tf.data.corpora import media
    from mmer_tf.data.segments import SegmentSet
    from mmer_tf.features import Recipe, featurize_clip

    recipe = recipe or Recipe.from_dict(sidecar["recipe"])
    modalities = list(sidecar["modalities"])
    data: dict[str, dict] = {m: {} for m in modalities}
    reference, failed = {}, {}
    for clip in clips:
        try:
            out = featurize_clip(clip, recipe)
        except MmerError as exc:
            failed[clip.id] = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - a corrupt file is reported, never aborts the batch
            failed[clip.id] = f"{type(exc).__name__}: {exc}"
            continue
        missing = [m for m in modalities if m not in out or len(out[m][0]) == 0]
        if missing:
            failed[clip.id] = f"no {', '.join(missing)} features (the model needs {', '.join(modalities)})"
            continue
        hull = media.reference_interval({m: np.asarray(iv) for m, (iv, _) in out.items()})
        if hull is None:
            failed[clip.id] = "no time interval in its features"
            continue
        reference[clip.id] = (*hull, 0.0)
        for m in modalities:
            intervals, features = out[m]
            data[m][clip.id] = {"intervals": np.asarray(intervals, np.float64),
                                "features": np.asarray(features, np.float32)}
    sources = {m: MemorySource(m, data[m]) for m in modalities}
    report = AlignReport()
    ids, features = [], {m: [] for m in modalities}
    if reference:
        for cid, per_modality in media.align_clips(sources, reference, aligned=bool(sidecar["aligned"]),
                                                   report=report):
            ids.append(cid)
            for m in modalities:
                features[m].append(per_modality[m])
    for cid, reason in report.dropped_video_ids.items():
        failed.setdefault(cid, f"alignment: {reason}")
    for cid in reference:
        if cid not in ids and cid not in failed:
            failed[cid] = "alignment left no segment with every modality"
    segments = SegmentSet(ids=ids, features=features, labels=np.zeros((len(ids), 1), np.float32),
                          aligned=bool(sidecar["aligned"]))
    return segments, failed


def normalize_like_training(segments, sidecar: Mapping):
    """The training normalisation (:func:`mmer_tf.data.normalization.normalize_set`) with the saved statistics."""
    from mmer_tf.data.normalization import normalize_set

    saved = sidecar.get("statistics") or {}
    stats = {m: {k: np.asarray(v, np.float32) for k, v in values.items()} for m, values in saved.items()}
    return normalize_set(segments, sidecar.get("normalization", "train"), stats, source="sidecar")


def model_scores(model, segments, sidecar: Mapping, batch_size: int = 32, streams=()) -> np.ndarray:
    """``[N, classes]`` outputs of ``model`` on ``segments`` through the training input pipeline
    (``streams``: the fine-tuned modalities' frames, read per batch; see ``mmer_tf.finetune``)."""
    from mmer_tf.data import pipeline

    classes = sidecar["classes"]
    tuned = sidecar.get("finetune") or {}
    ds = pipeline.make_dataset(segments, np.zeros((len(segments), len(classes)), np.float32),
                               batch_size=batch_size, shuffle=False, seed=0,
                               fixed_steps=int(sidecar.get("fixed_num_steps", 0)), streams=streams,
                               modalities=[m for m in sidecar["modalities"] if m not in tuned])
    scores = np.asarray(model.predict(ds, verbose=0), dtype=np.float32)
    if scores.ndim != 2:  # a model trained on a frame-labelled corpus (per-step outputs)
        raise MmerError(f"model {model.name}: predicts one output per frame (trained on per-frame labels); "
                        "python -m mmer_tf predict scores models trained on one label per clip")
    return scores


def predict_clips(model_path, clips: Sequence, sidecar: Mapping | None = None, model=None):
    """``(ids, scores [N, K], failed {id: reason})`` for ``clips`` (:class:`mmer_tf.features.Clip`)."""
    sidecar = sidecar or load_sidecar(model_path)
    streams = ()
    if sidecar.get("finetune"):  # frames decoded as training cached them, the other modalities featurized
        from mmer_tf.finetune import run as finetune

        segments, streams, failed = finetune.predict_segments(clips, sidecar, featurize_segments,
                                                              normalize_like_training)
    else:
        segments, failed = featurize_segments(clips, sidecar)
    if not len(segments):
        return [], np.zeros((0, len(sidecar["classes"])), np.float32), failed
    if not streams:
        segments = normalize_like_training(segments, sidecar)
    if model is None:
        from mmer_tf import train

        model = train.load_model(model_path)
    return [s.split("[")[0] for s in segments.ids], model_scores(model, segments, sidecar, streams=streams), failed


# ----------------------------------------------------------------------------------------------
# Captioned copy
# ----------------------------------------------------------------------------------------------


def _caption_layout(height: int, width: int, text: str):
    """Font scale, thickness, text origin and band top so the caption fits the frame's width."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    (unit_w, _), _ = cv2.getTextSize(text, font, 1.0, 1)
    scale = min(max(0.3, min(width, height) / 400.0), 0.92 * width / max(unit_w, 1))
    thickness = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    band_top = max(0, height - (th + base + 2 * thickness + 4))
    origin = (max(1, (width - tw) // 2), height - base - thickness - 1)
    return scale, thickness, origin, band_top


def draw_caption(image: np.ndarray, text: str) -> np.ndarray:
    """``text`` in white on a darkened band along the bottom of an RGB frame, sized to fit it."""
    import cv2

    height, width = image.shape[:2]
    scale, thickness, origin, top = _caption_layout(height, width, text)
    out = np.ascontiguousarray(image.copy())
    out[top:] = (out[top:] * 0.3).astype(out.dtype)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def caption_band(height: int, width: int, text: str) -> tuple[int, int]:
    """Rows ``[top, height)`` that :func:`draw_caption` changes (for checks)."""
    return _caption_layout(height, width, text)[3], height


def write_captioned(src: Path, dst: Path, text: str) -> int:
    """Copy ``src`` to ``dst`` with ``text`` on every video frame and every audio stream remuxed as is.

    Returns the number of video frames written. Written to a temporary name, then renamed.
    """
    import av

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=dst.suffix or ".mp4", dir=dst.parent)
    os.close(fd)
    frames = 0
    try:
        with av.open(str(src)) as inp:
            if not inp.streams.video:
                raise MmerError(f"{src}: no video stream to caption")
            vin = inp.streams.video[0]
            with av.open(tmp, "w", format=_container_format(dst)) as out:
                rate = vin.average_rate or vin.guessed_rate or 25
                codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
                vout = out.add_stream(codec, rate=rate)
                vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
                vout.pix_fmt = "yuv420p"
                vout.time_base = vin.time_base
                if codec == "libx264":
                    vout.options = {"crf": "18", "preset": "veryfast"}
                audio = {}
                for ain in inp.streams.audio:
                    audio[ain.index] = out.add_stream_from_template(ain)
                for packet in inp.demux(vin, *inp.streams.audio):
                    if packet.stream.index in audio:
                        if packet.dts is None:
                            continue
                        packet.stream = audio[packet.stream.index]
                        out.mux(packet)
                        continue
                    for frame in packet.decode():
                        image = draw_caption(frame.to_ndarray(format="rgb24"), text)
                        new = av.VideoFrame.from_ndarray(image, format="rgb24")
                        new.pts, new.time_base = frame.pts, frame.time_base
                        out.mux(vout.encode(new))
                        frames += 1
                out.mux(vout.encode(None))
        os.chmod(tmp, file_mode())  # mkstemp made it 0600; outputs get the umask's mode like every other
        os.replace(tmp, dst)
    except av.FFmpegError as exc:
        raise MmerError(f"{src}: cannot write a captioned copy to {dst} ({exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return frames


def _container_format(path: Path) -> str:
    return {".mkv": "matroska", ".mov": "mov", ".avi": "avi", ".webm": "webm"}.get(path.suffix.lower(), "mp4")


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def collect_inputs(paths: Sequence[str]) -> tuple[list[Path], bool]:
    """Media files named or inside named folders (sorted); whether the output is a folder."""
    from mmer_tf.data.corpora.media import MEDIA_SUFFIXES

    files, folder_mode = [], len(paths) > 1
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            folder_mode = True
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise MmerError(f"{path}: no such clip or folder")
    if not files:
        raise MmerError(f"{', '.join(paths)}: no media files ({', '.join(MEDIA_SUFFIXES)})")
    return files, folder_mode


def read_transcripts(path: Path) -> dict[str, str]:
    """``{file: text}`` from a CSV with columns ``file,text`` (``file`` a path or a bare file name)."""
    try:
        rows = list(csv.DictReader(io.StringIO(Path(path).read_bytes().decode("utf-8-sig"), newline="")))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MmerError(f"--transcripts {path}: unreadable ({exc})") from None
    if rows and not {"file", "text"} <= set(rows[0]):
        raise MmerError(f"--transcripts {path}: needs the columns file,text (has {', '.join(rows[0])})")
    return {row["file"]: row["text"] or "" for row in rows}


def _transcript(file: Path, text: str | None, transcripts: Mapping[str, str]) -> str | None:
    for key in (str(file), file.name):
        if key in transcripts:
            return transcripts[key]
    return text


def run(model_path: Path, inputs: Sequence[str], out: str | None = None, text: str | None = None,
        stream=sys.stdout, transcripts: Mapping[str, str] | None = None) -> dict:
    from mmer_tf.data.corpora.media import VIDEO_SUFFIXES, clip_id
    from mmer_tf.features import Clip

    sidecar = load_sidecar(model_path)
    transcripts = dict(transcripts or {})
    if "text" in sidecar["modalities"] and text is None and not transcripts:
        raise MmerError(f"--model {model_path}: uses the text modality; give the transcript with --text or "
                        "--transcripts (or train with --modalities audio,vision)")
    files, folder_mode = collect_inputs(inputs)
    clips, by_id = [], {}
    for file in files:
        cid = clip_id(f"{len(clips):05d}_{file.stem}")
        spoken = _transcript(file, text, transcripts) if "text" in sidecar["modalities"] else None
        clips.append(Clip(id=cid, media=file, text=spoken))
        by_id[cid] = file
    ids, scores, failed = predict_clips(model_path, clips, sidecar)
    classes = list(sidecar["classes"])
    out_dir = Path(out) if (out and folder_mode) else Path("captioned") if folder_mode else None
    rows = []
    for cid, row in zip(ids, scores):
        file = by_id[cid]
        best = int(np.argmax(row))
        label = classes[best]
        print(f"{file}: {label} ({row[best]:.3f})  " + "  ".join(f"{c}={s:.3f}" for c, s in zip(classes, row)),
              file=stream)
        captioned = ""
        if file.suffix.lower() in VIDEO_SUFFIXES:
            target = out_dir / f"{file.stem}_captioned.mp4" if out_dir else Path(out or f"{file.stem}_captioned.mp4")
            try:
                write_captioned(file, target, f"{label} {row[best]:.2f}")
                captioned = str(target)
            except MmerError as exc:
                print(f"warning: {exc}", file=sys.stderr)
        rows.append({"file": str(file), "predicted": label, **{f"score_{c}": f"{s:.6f}" for c, s in zip(classes, row)},
                     "captioned": captioned})
    for cid, reason in failed.items():
        print(f"skipped {by_id.get(cid, cid)}: {reason}", file=sys.stderr)
    csv_path = None
    if folder_mode:
        out_dir.mkdir(parents=True, exist_ok=True)
        csv_path = out_dir / "predictions.csv"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["file", "predicted", *[f"score_{c}" for c in classes], "captioned"])
        writer.writeheader()
        writer.writerows(rows)
        for cid, reason in failed.items():
            writer.writerow({"file": str(by_id.get(cid, cid)), "predicted": f"skipped: {reason}"})
        atomic_write_text(csv_path, buffer.getvalue())
        print(f"wrote {csv_path}", file=stream)
    return {"rows": rows, "failed": failed, "csv": csv_path}
