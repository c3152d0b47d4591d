"""Video encoders: frames sampled at ``fps`` -> optional face crop -> one feature row per frame.

Face crop: OpenCV's bundled frontal-face Haar cascade (``cv2.data``; no download) on a grey frame
scaled to at most 320 px wide; the largest face, squared and widened by 10 %. When no face is found
the centre square is used instead and counted (the summary reports the fallback rate, so a corpus
where detection fails is visible rather than silently featurized from backgrounds).

Offline default (``offline``): HOG of the histogram-equalised 64x64 grey face crop (8x8-pixel cells,
9 orientation bins, 2x2-cell blocks without overlap: 4x4 blocks x 36 = 576 dims). HOG of the face is
the appearance descriptor OpenFace's action-unit detectors use (seed 000's action units); the crop is
not landmark-aligned (no landmark model ships with OpenCV's wheels), only located and scaled.

``hub:<path>``: an image feature-vector model (``[None, H, W, 3]`` float32 in [0, 1] -> ``[None, D]``),
fed in batches of 16 frames; ``H = W`` from the model's signature, else the recipe's ``image_size``,
else 224. Frame ``k`` spans ``[k/fps, (k+1)/fps]`` s, clipped to the clip.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from mmer_tf.features import hub
from mmer_tf.features.media import MediaError, iter_frames
from mmer_tf.features.recipe import Recipe, hub_paths

FACE_SIZE = 64
DETECT_WIDTH = 320
HOG_DIM = 576
BATCH = 16


@lru_cache(maxsize=1)
def _cascade():
    import cv2

    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
    if cascade.empty():
        raise RuntimeError("OpenCV's bundled face cascade could not be loaded")
    return cascade


@lru_cache(maxsize=1)
def _hog():
    import cv2

    return cv2.HOGDescriptor((FACE_SIZE, FACE_SIZE), (16, 16), (16, 16), (8, 8), 9)


def face_box(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(x, y, side, side)`` of the largest detected face (squared, +10 %), or ``None``."""
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, DETECT_WIDTH / w)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, (int(round(w * scale)), int(round(h * scale))), interpolation=cv2.INTER_AREA)
    faces = _cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
    if len(faces) == 0:
        return None
    x, y, fw, fh = max((tuple(int(v) for v in f) for f in faces), key=lambda f: f[2] * f[3])
    side = int(round(max(fw, fh) * 1.1 / scale))
    cx, cy = (x + fw / 2) / scale, (y + fh / 2) / scale
    side = min(side, h, w)
    x0 = int(round(min(max(cx - side / 2, 0), w - side)))
    y0 = int(round(min(max(cy - side / 2, 0), h - side)))
    return x0, y0, side, side


def centre_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    h, w = rgb.shape[:2]
    side = min(h, w)
    return (w - side) // 2, (h - side) // 2, side, side


def crop(rgb: np.ndarray, face_crop: bool) -> tuple[np.ndarray, bool]:
    """The face (or centre) square of a frame, and whether it fell back to the centre."""
    box = face_box(rgb) if face_crop else None
    fell_back = face_crop and box is None
    x, y, bw, bh = box if box is not None else centre_box(rgb)
    return rgb[y:y + bh, x:x + bw], fell_back


def hog_descriptor(face_rgb: np.ndarray) -> np.ndarray:
    import cv2

    grey = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    grey = cv2.equalizeHist(grey)
    return _hog().compute(grey).reshape(-1).astype(np.float32)


def _image_size(model, recipe: Recipe) -> int:
    spec = hub.input_spec(model)
    if spec is not None and spec.shape.rank == 4 and spec.shape[1] is not None:
        return int(spec.shape[1])
    return recipe.image_size or 224


def encode_video(path: Path, recipe: Recipe, duration: float | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Stream the video's frames through the recipe's encoder; returns intervals, features, frame stats."""
    import cv2

    use_hub = recipe.video.startswith("hub:")
    if use_hub:
        import tensorflow as tf

        model = hub.load(hub_paths(recipe.video)[0], "--video")
        size = _image_size(model, recipe)
    rows: list[np.ndarray] = []
    ks: list[int] = []
    batch: list[np.ndarray] = []
    fallback = 0

    def flush() -> None:
        out = hub.select_output(hub.call(model, tf.constant(np.stack(batch))), "", "--video")
        rows.extend(out.reshape(len(batch), -1))
        batch.clear()

    for k, rgb in iter_frames(path, recipe.fps):
        face, fell_back = crop(rgb, recipe.face_crop)
        fallback += int(fell_back)
        ks.append(k)
        if use_hub:
            image = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
            batch.append(image.astype(np.float32) / 255.0)
            if len(batch) == BATCH:
                flush()
        else:
            rows.append(hog_descriptor(face))
    if use_hub and batch:
        flush()
    if not rows:
        raise MediaError("no video frames decoded")
    starts = np.asarray(ks, dtype=np.float64) / recipe.fps
    intervals = np.stack([starts, starts + 1.0 / recipe.fps], axis=1)
    if duration is not None:
        intervals = np.clip(intervals, 0.0, duration)
    stats = {"frames": len(rows), "face_fallback": fallback if recipe.face_crop else 0}
    return intervals, np.ascontiguousarray(np.stack(rows), dtype=np.float32), stats
