"""``kh:<preset>`` recipes on tiny KerasHub presets (random weights, ``save_to_preset`` to a temporary
folder): the features equal the backbone's own outputs, pooled as documented, on the documented time
steps; the featurized key follows the weights; bad presets are one-line errors. Nothing is downloaded."""

from __future__ import annotations

import numpy as np
import pytest

import kh_support
import media_support as ms
from mmer_tf.errors import MmerError
from mmer_tf.features import Clip, Recipe
from mmer_tf.features.extract import extract
from mmer_tf.features.media import SAMPLE_RATE, iter_frames, load_audio
from mmer_tf.features.video import crop


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    root = tmp_path_factory.mktemp("presets")
    return {"bert": kh_support.bert(root / "bert"), "resnet": kh_support.resnet(root / "resnet"),
            "whisper": kh_support.whisper(root / "whisper")}


def test_text_rows_are_the_backbones_token_states_per_word(presets):
    import keras_hub

    from mmer_tf.features.text import encode_text

    backbone = keras_hub.models.Backbone.from_preset(str(presets["bert"]))
    intervals, rows = encode_text("Kids are talking", 3.0, Recipe(text=f"kh:{presets['bert']}"))
    # [CLS] kids are talk ##ing [SEP] = 2 5 6 7 8 3: "talking" is two word pieces, averaged
    ids = np.array([[2, 5, 6, 7, 8, 3]], dtype=np.int32)
    states = np.asarray(backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids),
                                  "padding_mask": np.ones_like(ids)})["sequence_output"])[0]
    expected = np.stack([states[1], states[2], states[3:5].mean(axis=0)])
    np.testing.assert_allclose(rows, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(intervals, [[0, 1], [1, 2], [2, 3]])  # the words' intervals


def test_text_longer_than_the_positions_is_encoded_in_windows(presets):
    from mmer_tf.features.kh import encode_words

    words = "kids are talking by the door dogs are sitting".split()  # 10 pieces; 6 fit between [CLS] [SEP]
    rows = encode_words(words, f"kh:{presets['bert']}")
    assert rows.shape == (9, 8)
    np.testing.assert_allclose(rows[:5], encode_words(words[:5], f"kh:{presets['bert']}"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rows[5:], encode_words(words[5:], f"kh:{presets['bert']}"), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_video_rows_are_the_image_backbones_pooled_maps(presets, tmp_path):
    import keras_hub

    clip = ms.video(tmp_path / "face.mp4", 1.0, fps=5, size=(96, 80), shaded=True)
    recipe = Recipe(audio="none", text="none", video=f"kh:{presets['resnet']}", fps=5)
    features, stats = extract(Clip("face", clip), recipe)
    intervals, rows = features["vision"]
    backbone = keras_hub.models.Backbone.from_preset(str(presets["resnet"]))
    converter = keras_hub.layers.ImageConverter.from_preset(str(presets["resnet"]))
    import cv2

    faces = [cv2.resize(crop(rgb, True)[0], (32, 32), interpolation=cv2.INTER_AREA)
             for _, rgb in iter_frames(clip, 5)]
    maps = np.asarray(backbone(np.asarray(converter(np.stack(faces).astype(np.float32)))))
    assert maps.shape[1:] == (4, 4, 16) and rows.shape == (5, 16) and stats["frames"] == 5
    np.testing.assert_allclose(rows, maps.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(intervals[:, 0], np.arange(5) / 5)


@pytest.mark.slow
def test_audio_rows_are_whisper_encoder_frames_at_their_hop(presets, tmp_path):
    import keras_hub

    wav = ms.speech("kids are talking by the door and the dogs are sitting", tmp_path / "s.wav", speed=120)
    wave = load_audio(wav)
    seconds = len(wave) / SAMPLE_RATE
    assert seconds > kh_support.AUDIO_WINDOW_S  # two converter windows
    features, _ = extract(Clip("s", wav), Recipe(audio=f"kh:{presets['whisper']}", text="none", video="none"))
    intervals, rows = features["audio"]
    backbone = keras_hub.models.Backbone.from_preset(str(presets["whisper"]))
    converter = keras_hub.layers.AudioConverter.from_preset(str(presets["whisper"]))
    window = kh_support.AUDIO_WINDOW_S * SAMPLE_RATE
    expected = []
    for start in range(0, len(wave), window):
        piece = wave[start:start + window]
        out = backbone({"encoder_features": np.asarray(converter(piece[np.newaxis])),
                        "decoder_token_ids": np.zeros((1, 1), np.int32),
                        "decoder_padding_mask": np.ones((1, 1), np.int32)})
        expected.append(np.asarray(out["encoder_sequence_output"])[0][:int(np.ceil(len(piece) / 320))])
    np.testing.assert_allclose(rows, np.concatenate(expected), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.diff(intervals[:, 0]), 0.02, atol=1e-9)  # Whisper's 20 ms encoder hop
    assert intervals[-1, 1] <= seconds + 1e-9


def test_weights_are_in_the_key_and_bad_presets_are_one_line_errors(presets, tmp_path):
    spec = f"kh:{presets['bert']}"
    key = Recipe(text=spec).key_dict()
    assert key["text"] == spec and len(key["weights"]["text"]) == 16
    other = kh_support.bert(tmp_path / "bert_other", seed=1)  # same config, other weights
    assert Recipe(text=f"kh:{other}").key_dict()["weights"]["text"] != key["weights"]["text"]
    before = Recipe(text=f"kh:{other}").fingerprint()
    kh_support.bert(other, seed=2)  # the same folder re-saved with new weights: a new key
    assert Recipe(text=f"kh:{other}").fingerprint() != before
    (tmp_path / "empty").mkdir()
    for bad, message in [(f"kh:{tmp_path / 'empty'}", "not a KerasHub preset folder"),
                         (f"kh:{tmp_path / 'missing'}", "no such preset folder"), ("kh:", "needs a KerasHub preset"),
                         ("kh:ftp://x", "unknown preset scheme")]:
        with pytest.raises(MmerError, match=message) as err:
            Recipe(text=bad).fingerprint()
        assert str(err.value).startswith(f"--text {bad}") and "\n" not in str(err.value)
    with pytest.raises(MmerError, match="--audio kh:.*cannot load its audio converter"):
        extract(Clip("x", ms.tone(0.5, tmp_path / "x.wav")),
                Recipe(audio=spec, text="none", video="none"))
