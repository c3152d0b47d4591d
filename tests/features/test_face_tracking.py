"""Following a face through a video gives the boxes a full search of every frame gives.

The featurizer searches only near the last search's face (window sizes within ``TRACK_RANGE``;
:class:`mmer_tf.features.video.FaceTracker`), only on every ``DETECT_EVERY``-th sampled frame, on the grey
frame scaled to 320 px, because a full cascade search of a 720p frame costs several times its decoding. The oracle is the full search itself (:func:`face_box` without ``near``), on
1280x720 frames of a drawn, shaded face that moves and changes as in a clip; OpenCV's real cascades.
"""

from __future__ import annotations

import media_support as ms
from mmer_tf.features import Recipe
from mmer_tf.features import video as vid

FPS = 30000 / 1001


def frames(count: int = 8):
    """1280x720 frames 1/5 s apart (the default recipe's 5 fps), the face sliding sideways as it goes."""
    return [ms.shaded_face_frame(1280, 720, i / 5.0, smile=-0.5, shift=6 * i) for i in range(count)]


def test_followed_face_boxes_equal_full_search_within_a_few_pixels():
    shots = frames()
    full = [vid.face_box(frame) for frame in shots]
    assert all(box is not None for box in full)  # the drawn face is found in every frame
    tracker = vid.FaceTracker()
    followed = [tracker.box(frame) for frame in shots]
    for a, b in zip(full, followed):
        assert max(abs(p - q) for p, q in zip(a, b)) <= 4, (a, b)
    # The near search alone (not a fallback to the full one) finds each next frame's face.
    for previous, frame, expected in zip(full, shots[1:], full[1:]):
        near = vid.face_box(frame, near=previous)
        assert near is not None and max(abs(p - q) for p, q in zip(near, expected)) <= 4


def test_tracker_searches_the_whole_frame_again_when_the_face_changes_size():
    import numpy as np

    big = ms.shaded_face_frame(1280, 720, 0.0, smile=-0.5)
    small = np.full_like(big, 235)
    small[180:540, 320:960] = ms.shaded_face_frame(640, 360, 0.0, smile=-0.5)  # the same face, half as large
    tracker = vid.FaceTracker()
    first = tracker.box(small)
    second = tracker.box(big)
    assert second == vid.face_box(big) and second[2] > 1.6 * first[2]


def test_video_features_use_the_followed_boxes(tmp_path):
    """encode_video reads grey frames, searches face and eyes on every DETECT_EVERY-th one (following the face)
    and holds them in between: its rows are the HOG of exactly those crops. Reading the luma plane instead of
    converting to RGB changes grey levels by at most 3 (of 255), and the rows a little."""
    import numpy as np

    from mmer_tf.features.media import iter_frames

    clip = ms.video(tmp_path / "c.mp4", 1.6, fps=10, size=(640, 360), smile=-0.5, shaded=True)
    recipe = Recipe(fps=5.0)
    _, rows, stats = vid.encode_video(clip, recipe, duration=1.6)
    greys = [g for _, g in iter_frames(clip, 5.0, grey=True)]
    rgbs = [rgb for _, rgb in iter_frames(clip, 5.0)]
    assert len(greys) == len(rows) == 8 and greys[0].shape == (360, 640)
    searched, expected, missed = vid.FaceTracker(), [], 0
    for i, grey in enumerate(greys):
        if i % vid.DETECT_EVERY == 0:
            box, angle = searched.pose(grey)
        missed += box is None
        expected.append(vid.hog_descriptor(vid.crop_at(grey, box, angle)[0]))
    assert stats["face_fallback"] == missed < len(greys) // 2
    np.testing.assert_allclose(rows, np.stack(expected), atol=1e-6)
    import cv2

    assert max(np.abs(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(int) - g).max() for rgb, g in zip(rgbs, greys)) <= 3
    from_rgb = np.stack([vid.hog_descriptor(vid.crop_at(rgb, *vid.FaceTracker().pose(grey))[0])
                         for rgb, grey in zip(rgbs, greys)])
    from_grey = np.stack([vid.hog_descriptor(vid.crop_at(grey, *vid.FaceTracker().pose(grey))[0]) for grey in greys])
    # histogram equalisation spreads those few levels: the rows move by ~7 % of their mean magnitude, no more
    assert np.abs(from_rgb - from_grey).mean() < 0.1 * np.abs(from_rgb).mean()
    assert min(np.corrcoef(a, b)[0, 1] for a, b in zip(from_rgb, from_grey)) > 0.97


def astronaut_clip(path, seconds: float = 2.0):
    """A real face (scikit-image's ``astronaut()``, her head and shoulders) in a 1280x720 29.97 fps H.264 clip,
    the face ~220 px wide, as large as a RAVDESS actor's, still as a seated speaker."""
    from fractions import Fraction

    import av
    import cv2
    import numpy as np
    from skimage.data import astronaut

    head = cv2.resize(astronaut()[0:300, 80:380], (600, 600), interpolation=cv2.INTER_AREA)
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    canvas[60:660, 300:900] = head
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(30000, 1001))
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for i in range(int(seconds * 30000 / 1001)):
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1001, 30000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_reduced_resolution_every_nth_search_finds_a_real_face_where_full_resolution_does(tmp_path):
    """The featurizer's schedule (320 px wide, every DETECT_EVERY-th sample, followed, held between) against a
    full-resolution search of every sampled frame, on a photographed face: the same centre within 2.5 % of
    the face's side (5 px here; the boxes' corners differ by up to 12 px) and
    the same size within one step of the cascade's 1.1 scale ladder (the two resolutions round the face to
    different rungs: 224 vs 212 px here)."""
    from mmer_tf.features.media import iter_frames

    clip = astronaut_clip(tmp_path / "astronaut.mp4", seconds=1.2)
    greys = [g for _, g in iter_frames(clip, 5.0, grey=True)]
    assert len(greys) == 6 and greys[0].shape == (720, 1280)
    tracker = vid.FaceTracker(every=vid.DETECT_EVERY)
    for grey in greys:
        full = vid.face_box(grey, width=grey.shape[1])
        got = tracker.box(grey)
        assert full is not None and got is not None
        centre = [abs((a + a_side / 2) - (b + b_side / 2)) for a, b, a_side, b_side in
                  ((full[0], got[0], full[2], got[2]), (full[1], got[1], full[3], got[3]))]
        assert max(centre) <= 0.025 * full[2], (full, got)  # 5 px on this ~215 px face
        assert abs(got[2] / full[2] - 1) <= 0.1, (full, got)
    assert tracker.seen == len(greys)
