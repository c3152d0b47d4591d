"""Following a face through a video gives the boxes a full search of every frame gives.

The featurizer searches each frame only near the last frame's face (window sizes within ``TRACK_RANGE``;
:class:`mmer_tf.features.video.FaceTracker`) because a full cascade search of a 720p frame costs most of
the default recipe's time. The oracle is the full search itself (:func:`face_box` without ``near``), on
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
    """encode_video's crops come from the tracker: same rows as full-search crops of the same frames."""
    import numpy as np

    from mmer_tf.features.media import iter_frames

    clip = ms.video(tmp_path / "c.mp4", 1.0, fps=10, size=(640, 360), smile=-0.5, shaded=True)
    recipe = Recipe(fps=5.0)
    _, rows, stats = vid.encode_video(clip, recipe, duration=1.0)
    shots = [rgb for _, rgb in iter_frames(clip, 5.0)]
    full = np.stack([vid.hog_descriptor(vid.crop(rgb, True)[0]) for rgb in shots])
    missed = sum(vid.face_box(rgb) is None for rgb in shots)
    assert stats["face_fallback"] == missed < len(shots) // 2
    np.testing.assert_allclose(rows, full, atol=1e-6)
