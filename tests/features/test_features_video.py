"""Video featurization: frame sampling by timestamp, face crop with counted fallback, HOG, hub image encoders."""

from __future__ import annotations

import numpy as np
import pytest

import media_support as ms
from mmer_tf.features import Recipe
from mmer_tf.features import video as vid
from mmer_tf.features.media import iter_frames
from mmer_tf.features.video import HOG_DIM, encode_video, hog_descriptor


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("video_media")
    return {"smile": ms.video(root / "smile.mp4", 1.5, fps=10, smile=1.0),
            "frown": ms.video(root / "frown.mp4", 1.5, fps=10, smile=-1.0)}


def test_frames_sampled_by_timestamp(clips):
    ks = [k for k, _ in iter_frames(clips["smile"], 5.0)]
    assert ks == list(range(8))  # 15 frames at 10 fps, t = 0 .. 1.4 s, sampled at 5 fps
    fast = [k for k, frame in iter_frames(clips["smile"], 20.0)]
    assert len(fast) == 15 and fast[:3] == [0, 2, 4]  # a slower source: every frame once, never repeated


def test_offline_hog_shapes_intervals_and_fallback(clips):
    intervals, features, stats = encode_video(clips["smile"], Recipe(fps=5.0), duration=1.5)
    assert features.shape == (8, HOG_DIM) and features.dtype == np.float32
    np.testing.assert_allclose(intervals[:, 0], np.arange(8) / 5.0)
    np.testing.assert_allclose(intervals[-1], [1.4, 1.5])  # clipped to the clip's end
    # The drawn face is not a face to the Haar cascade: every frame falls back to the centre, and says so.
    assert stats == {"frames": 8, "face_fallback": 8, "face_aligned": 0}
    assert encode_video(clips["smile"], Recipe(fps=5.0, face_crop=False), None)[2]["face_fallback"] == 0


def test_hog_carries_the_expression(clips):
    """Smile vs frown frames (the face also moves) are told apart by leave-one-out nearest centroid."""
    def hogs(name):
        return encode_video(clips[name], Recipe(fps=10.0, face_crop=False), None)[1]

    x = np.concatenate([hogs("smile"), hogs("frown")])
    y = np.repeat([0, 1], len(x) // 2)
    correct = 0
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        centroids = [x[keep & (y == c)].mean(0) for c in (0, 1)]
        correct += int(np.argmin([np.linalg.norm(x[i] - c) for c in centroids]) == y[i])
    assert correct / len(x) >= 0.9


class Boxes:
    """A stand-in cascade returning fixed boxes (and checking the image it is given)."""

    def __init__(self, boxes, shape=None):
        self.boxes, self.shape = np.array(boxes), shape

    def detectMultiScale(self, grey, **kwargs):  # noqa: N802 (OpenCV's name)
        if self.shape is not None:
            assert grey.shape == self.shape
        return self.boxes


def test_face_crop_takes_the_largest_face_and_maps_back(monkeypatch):
    # detection runs on the frame scaled to 320 px wide
    monkeypatch.setattr(vid, "_cascade", lambda: Boxes([[10, 10, 30, 30], [100, 50, 60, 60]], (180, 320)))
    monkeypatch.setattr(vid, "_eye_cascade", lambda: Boxes([]))
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[100:220, 200:320] = 255  # the larger face's area in full resolution
    face, how = vid.crop(frame, True)
    assert how == "face" and face.shape[0] == face.shape[1] == round(60 * 1.1 * 2)
    assert face.mean() > 0.75 * 255  # mostly inside the planted square
    monkeypatch.setattr(vid, "_cascade", lambda: Boxes([]))
    centre, how = vid.crop(frame, True)
    assert how == "centre" and centre.shape == (360, 360, 3)


def test_face_crop_levels_the_eyes(monkeypatch):
    import cv2

    angle = 20.0
    frame = np.zeros((400, 400, 3), np.uint8)
    dx, dy = 120 * np.cos(np.radians(angle)), 120 * np.sin(np.radians(angle))
    cv2.line(frame, (int(200 - dx), int(200 - dy)), (int(200 + dx), int(200 + dy)), (255, 255, 255), 3)
    monkeypatch.setattr(vid, "_cascade", lambda: Boxes([[80, 80, 160, 160]]))  # centre (200, 200) at full size
    # eyes in the 220-px face crop scaled to 128 px: a pair rolled by the same 20 degrees
    ex, ey = 40 * np.cos(np.radians(angle)), 40 * np.sin(np.radians(angle))
    monkeypatch.setattr(vid, "_eye_cascade", lambda: Boxes([[64 - ex - 8, 40 - ey - 8, 16, 16],
                                                           [64 + ex - 8, 40 + ey - 8, 16, 16]]))
    assert vid.eye_angle(np.zeros((220, 220, 3), np.uint8)) == pytest.approx(angle, abs=0.5)
    aligned, how = vid.crop(frame, True)
    assert how == "aligned" and aligned.shape == (220, 220, 3)
    rows = np.nonzero(aligned[:, :, 0] > 128)[0]
    assert rows.std() < 2.0 and abs(rows.mean() - 110) < 3  # the rolled line is now level, through the centre
    monkeypatch.setattr(vid, "_eye_cascade", lambda: Boxes([]))
    plain, how = vid.crop(frame, True)
    assert how == "face" and np.nonzero(plain[:, :, 0] > 128)[0].std() > 10


def test_hog_of_uniform_patch_is_zero_and_shape_fixed():
    flat = hog_descriptor(np.full((50, 70, 3), 128, np.uint8))
    assert flat.shape == (HOG_DIM,) and not flat.any()


def test_hub_image_encoder_per_frame(clips, tmp_path):
    from hub_support import IMAGE_SIZE, build_all

    paths = build_all(tmp_path, ("image",))
    intervals, features, stats = encode_video(clips["frown"], Recipe(video=f"hub:{paths['image']}", fps=10.0),
                                              duration=1.5)
    assert features.shape == (15, 10) and stats["frames"] == 15
    assert intervals.max() <= 1.5
    # Batches of 16 and the signature's 32x32 input: the same as calling the model on one resized crop.
    import cv2
    import tensorflow as tf

    from mmer_tf.features import hub

    k, frame = next(iter_frames(clips["frown"], 10.0))
    face = vid.crop(frame, True)[0]
    image = cv2.resize(face, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    direct = hub.load(paths["image"], "--video")(tf.constant(image[None])).numpy()[0]
    np.testing.assert_allclose(features[0], direct, rtol=1e-5)


def test_real_cascades_find_and_level_a_shaded_face():
    """OpenCV's own face and eye cascades (no stand-ins) on a drawn, shaded face, upright and rolled."""
    import cv2

    frame = ms.shaded_face_frame(320, 240, 0.0, smile=0.0)
    box = vid.face_box(frame)
    assert box is not None
    x, y, side, _ = box
    assert abs(x + side / 2 - 160) < 15 and abs(y + side / 2 - 120) < 25  # around the drawn face's centre
    assert vid.crop(frame, True)[1] == "aligned"
    assert abs(vid.eye_angle(frame[y:y + side, x:x + side])) < 3
    rolled = cv2.warpAffine(frame, cv2.getRotationMatrix2D((160, 120), -5, 1.0), (320, 240),
                            borderMode=cv2.BORDER_REPLICATE)  # turned 5 degrees clockwise: the right eye drops
    rx, ry, rside, _ = vid.face_box(rolled)  # (the frontal cascade misses it from ~10 degrees on)
    assert vid.eye_angle(rolled[ry:ry + rside, rx:rx + rside]) == pytest.approx(5, abs=1.5)
