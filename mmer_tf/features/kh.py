"""KerasHub presets as frozen encoders: ``kh:<preset>`` for text, video and audio.

Why: KerasHub is the Keras 3 home of pretrained backbones (BERT, RoBERTa, DeBERTa-v3, BART, ResNet,
EfficientNet, ViT, DINOv2, Whisper), loadable on TensorFlow and JAX alike, each with the preprocessing
layer its weights expect (tokenizer, image converter, audio converter) saved in the same preset.

``<preset>`` is a local preset folder (what ``save_to_preset`` writes: ``config.json``,
``model.weights.h5`` plus the preprocessing layer's file), a built-in preset name, or a ``kaggle://`` /
``hf://`` handle. A folder is read as it is; a name or handle is resolved by KerasHub itself into its
cache (``kagglehub`` / ``huggingface_hub``), which downloads on first use: name a local folder when the
machine is offline. The preset's weights are fingerprinted (SHA-256 of ``config.json`` and the weight
files) into the recipe's key, so a changed preset never reuses old features.

What one row is, per modality:
- text: the backbone's token states, averaged over each word's tokens, one row per word; words are
  spread over the clip as the offline text recipe does. Each word is tokenized on its own (after a space,
  so BPE vocabularies see it as in running text) and the sequence is framed by the tokenizer's start and
  end tokens; a transcript longer than the backbone's positions is encoded in consecutive windows.
- video: the face crop (or centre square) of each sampled frame through the image converter and the
  backbone; a feature map is averaged over space, a token sequence over tokens.
- audio: the Whisper encoder over the converter's log-mel frames; one row per encoder frame whose hop
  is the converter's stride times the encoder's downsampling (20 ms for Whisper), only frames over real
  audio (not the converter's padding); clips longer than the converter's window are encoded in windows.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from mmer_tf.errors import MmerError

PREFIX = "kh:"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
REMOTE_SCHEMES = ("kaggle://", "hf://", "gs://", "modelscope://")
BATCH = 16


def preset_of(spec: str) -> str:
    return spec[len(PREFIX):].strip()


def check_spec(spec: str, flag: str) -> None:
    """Syntax only (nothing is loaded): a folder, a built-in name or a kaggle:// / hf:// handle."""
    preset = preset_of(spec)
    if not preset:
        raise MmerError(f"{flag} {spec}: needs a KerasHub preset after 'kh:' (a preset folder, a built-in "
                        f"name such as bert_tiny_en_uncased, or a kaggle:// or hf:// handle)")
    if preset.startswith(REMOTE_SCHEMES) or _NAME.match(preset):
        return
    if "://" in preset:
        raise MmerError(f"{flag} {spec}: unknown preset scheme (kaggle://, hf:// or a local folder)")


def is_local(preset: str) -> bool:
    return not preset.startswith(REMOTE_SCHEMES) and Path(preset).expanduser().is_dir()


def _files(preset: str, flag: str) -> list[Path]:
    """The preset's config and weight files on this machine (KerasHub fetches a remote preset's)."""
    if is_local(preset):
        folder = Path(preset).expanduser()
        config = folder / "config.json"
        if not config.is_file():
            raise MmerError(f"{flag} kh:{preset}: not a KerasHub preset folder (no config.json)")
        return [config, *sorted(folder.glob("*.weights.h5")), *sorted(folder.glob("*.weights.json")),
                *sorted(folder.glob("*.safetensors"))]
    if not preset.startswith(REMOTE_SCHEMES) and "/" in preset:
        raise MmerError(f"{flag} kh:{preset}: no such preset folder")
    from keras_hub.src.utils import preset_utils

    found = []
    for name in ("config.json", "model.weights.h5"):
        try:
            found.append(Path(preset_utils.get_file(preset, name)))
        except Exception as exc:
            if name == "config.json":
                raise MmerError(f"{flag} kh:{preset}: cannot resolve the preset ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    return found


def _hash_files(paths: tuple[Path, ...]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


@lru_cache(maxsize=16)
def _cached_fingerprint(paths: tuple[Path, ...], stamps: tuple) -> str:
    return _hash_files(paths)


def weights_fingerprint(spec: str, flag: str) -> str:
    """16 hex digits of SHA-256 over the preset's config and weight files (cached per file state)."""
    paths = tuple(_files(preset_of(spec), flag))
    stamps = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    return _cached_fingerprint(paths, stamps)


def _load(kind: str, preset: str, flag: str):
    import keras_hub

    classes = {"backbone": keras_hub.models.Backbone, "tokenizer": keras_hub.models.Tokenizer,
               "image": keras_hub.layers.ImageConverter, "audio": keras_hub.layers.AudioConverter}
    _files(preset, flag)  # a clear error for a folder that is not a preset
    try:
        return classes[kind].from_preset(str(Path(preset).expanduser()) if is_local(preset) else preset)
    except Exception as exc:
        what = {"backbone": "backbone", "tokenizer": "tokenizer", "image": "image converter",
                "audio": "audio converter"}[kind]
        raise MmerError(f"{flag} kh:{preset}: cannot load its {what} ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


@lru_cache(maxsize=4)
def _text_encoder(preset: str):
    backbone = _load("backbone", preset, "--text")
    tokenizer = _load("tokenizer", preset, "--text")
    return backbone, tokenizer


@lru_cache(maxsize=4)
def _image_encoder(preset: str):
    return _load("backbone", preset, "--video"), _load("image", preset, "--video")


@lru_cache(maxsize=4)
def _audio_encoder(preset: str):
    import keras

    backbone = _load("backbone", preset, "--audio")
    converter = _load("audio", preset, "--audio")
    inputs = backbone.input if isinstance(backbone.input, dict) else {}
    outputs = backbone.output if isinstance(backbone.output, dict) else {}
    if "encoder_features" not in inputs or "encoder_sequence_output" not in outputs:
        raise MmerError(f"--audio kh:{preset}: not a Whisper-style audio backbone (needs an encoder_features "
                        f"input and an encoder_sequence_output)")
    encoder = keras.Model(inputs["encoder_features"], outputs["encoder_sequence_output"])
    return encoder, converter


def _named_output(out, keys: tuple[str, ...], what: str, flag: str):
    """The first of ``keys`` in a backbone's dict output (any other output as it is); a one-line error
    naming the outputs when none is there."""
    if not isinstance(out, dict):
        return out
    for key in keys:
        if key in out:
            return out[key]
    raise MmerError(f"{flag}: the backbone returns {sorted(out)}; none is {what}")


def _pool(out) -> np.ndarray:
    """Backbone output -> ``[N, D]``: feature maps averaged over space, token sequences over tokens."""
    out = _named_output(out, ("pooled_output", "sequence_output", "encoder_sequence_output"), "an image embedding",
                        "kh")
    out = np.asarray(out, dtype=np.float32)
    if out.ndim == 4:
        return out.mean(axis=(1, 2))
    if out.ndim == 3:
        return out.mean(axis=1)
    return out.reshape(len(out), -1)


def _special_id(tokenizer, *names: str) -> int | None:
    for name in names:
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    return None


def _ids(tokenizer, text: str) -> list[int]:
    ids = tokenizer(text)
    ids = np.asarray(ids.numpy() if hasattr(ids, "numpy") else ids).reshape(-1)
    return [int(i) for i in ids]


def _text_inputs(backbone, ids: np.ndarray) -> dict:
    names = set(backbone.input) if isinstance(backbone.input, dict) else {"token_ids"}
    ones = np.ones_like(ids)
    inputs = {}
    for name in names:
        if name in ("token_ids", "encoder_token_ids"):
            inputs[name] = ids
        elif name in ("padding_mask", "encoder_padding_mask"):
            inputs[name] = ones
        elif name == "segment_ids":
            inputs[name] = np.zeros_like(ids)
        elif name == "decoder_token_ids":
            inputs[name] = ids[:, :1]
        elif name == "decoder_padding_mask":
            inputs[name] = ones[:, :1]
        else:
            raise MmerError(f"--text kh: the backbone has an input '{name}' this recipe cannot fill")
    return inputs


def _token_states(backbone, ids: list[int]) -> np.ndarray:
    out = backbone.predict_on_batch(_text_inputs(backbone, np.asarray([ids], dtype=np.int32)))
    out = _named_output(out, ("sequence_output", "encoder_sequence_output"), "a token sequence", "--text kh")
    out = np.asarray(out, dtype=np.float32)
    if out.ndim != 3:
        raise MmerError(f"--text kh: the backbone returns shape {out.shape}, not token states")
    return out[0]


def encode_words(words: list[str], spec: str) -> np.ndarray:
    """``[max(1, len(words)), D]``: each word's token states averaged (the framing tokens' for no words)."""
    backbone, tokenizer = _text_encoder(preset_of(spec))
    start = _special_id(tokenizer, "start_token_id", "cls_token_id", "bos_token_id")
    end = _special_id(tokenizer, "end_token_id", "sep_token_id", "eos_token_id")
    head, tail = ([start] if start is not None else []), ([end] if end is not None else [])
    limit = int(getattr(backbone, "max_sequence_length", 0) or 512) - len(head) - len(tail)
    pieces = [_ids(tokenizer, word if i == 0 else " " + word)[:limit] or [] for i, word in enumerate(words)]
    if not words:
        return _token_states(backbone, head + tail).mean(axis=0, keepdims=True)
    rows: list[np.ndarray] = []
    i = 0
    while i < len(words):  # windows of whole words that fit the backbone's positions
        window, j = [], i
        while j < len(words) and len(window) + len(pieces[j]) <= limit:
            window.extend(pieces[j])
            j += 1
        j = max(j, i + 1)
        states = _token_states(backbone, head + window + tail)[len(head):]
        offset = 0
        for k in range(i, j):
            n = len(pieces[k])
            rows.append(states[offset:offset + n].mean(axis=0) if n else np.zeros(states.shape[1], np.float32))
            offset += n
        i = j
    return np.stack(rows).astype(np.float32)


def encode_images(faces: list[np.ndarray], spec: str) -> np.ndarray:
    """``[N, D]`` for N RGB uint8 crops: image converter (resize, scale) -> backbone -> pooled."""
    backbone, converter = _image_encoder(preset_of(spec))
    size = getattr(converter, "image_size", None)
    out = []
    for start in range(0, len(faces), BATCH):
        chunk = faces[start:start + BATCH]
        if size is None:  # a converter without a size cannot batch crops of different sizes
            images = [np.asarray(converter(face[np.newaxis].astype(np.float32))) for face in chunk]
            out.extend(_pool(backbone.predict_on_batch(image)) for image in images)
            continue
        images = np.asarray(converter(np.stack([_resize(face, size) for face in chunk]).astype(np.float32)))
        out.append(_pool(backbone.predict_on_batch(images)))
    return np.concatenate(out).astype(np.float32)


def _resize(face: np.ndarray, size) -> np.ndarray:
    """Crops differ in size; bring them to the converter's size so a batch stacks (it resizes again as a no-op)."""
    import cv2

    h, w = int(size[0]), int(size[1])
    return cv2.resize(face, (w, h), interpolation=cv2.INTER_AREA)


def encode_wave(wave: np.ndarray, spec: str, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Whisper-style encoder states at their real hop: ``(intervals [T, 2] s, features [T, D])``."""
    encoder, converter = _audio_encoder(preset_of(spec))
    rate = int(getattr(converter, "sampling_rate", sample_rate))
    if rate != sample_rate:
        raise MmerError(f"--audio {spec}: the audio converter expects {rate} Hz audio, the suite decodes "
                        f"{sample_rate} Hz")
    window = int(float(getattr(converter, "max_audio_length", 30)) * rate)
    stride = int(getattr(converter, "stride", 160))
    wave = np.asarray(wave, dtype=np.float32)
    rows: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    hop = 0.0
    for start in range(0, max(len(wave), 1), window):
        piece = wave[start:start + window]
        mels = np.asarray(converter(piece[np.newaxis]))
        states = np.asarray(encoder.predict_on_batch(mels), dtype=np.float32)[0]
        hop = stride * (mels.shape[1] / states.shape[0]) / rate
        real = min(len(states), max(1, int(np.ceil(len(piece) / (hop * rate)))))
        rows.append(states[:real])
        starts.append(start / rate + np.arange(real, dtype=np.float64) * hop)
    begin = np.concatenate(starts)
    return np.stack([begin, begin + hop], axis=1), np.concatenate(rows)
