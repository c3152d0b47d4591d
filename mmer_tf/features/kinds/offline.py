"""``offline`` (text and video defaults): hashed character n-gram word vectors; HOG of the face crop.

Both need no download (``features/text.py``: one row per word spread over the clip;
``features/video.py``: 576-dim HOG of the histogram-equalised 64x64 grey face).
"""

from __future__ import annotations

from mmer_tf.features.kinds import FrameEncoder, RecipeKind


def _text(text, duration, recipe):
    from mmer_tf.features.text import offline

    return offline(text, duration)


def _video(recipe) -> FrameEncoder:
    import numpy as np

    from mmer_tf.features.video import hog_descriptor

    return FrameEncoder(prepare=hog_descriptor, encode=np.stack, grey=True)


KIND = RecipeKind(name="offline", syntax={"text": "offline", "video": "offline"}, text=_text, video=_video,
                  doc="hashed char n-grams per word; HOG of the face crop")
