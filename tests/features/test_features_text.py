"""Text featurization: the offline hashed n-gram default, USE- and BERT-style hub encoders, recipes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmer_tf.errors import MmerError
from mmer_tf.features import Recipe
from mmer_tf.features.text import TEXT_DIM, encode_text, offline, word_vector


@pytest.fixture(scope="module")
def hub_models(tmp_path_factory):
    from hub_support import build_all

    return build_all(tmp_path_factory.mktemp("hub_text"), ("use", "bert_preprocess", "bert_encoder"))


def test_offline_one_unit_row_per_word_spread_over_clip():
    intervals, features = offline("Well, I'm SO happy today!", 2.0)
    assert features.shape == (5, TEXT_DIM) and features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(intervals, [[0, .4], [.4, .8], [.8, 1.2], [1.2, 1.6], [1.6, 2.0]], atol=1e-12)
    np.testing.assert_array_equal(features[2], word_vector("so"))  # case-folded


def test_offline_shares_subwords():
    assert len(np.flatnonzero(word_vector("happy"))) >= 10
    cos = lambda a, b: float(word_vector(a) @ word_vector(b))  # noqa: E731
    assert cos("happy", "happiness") > 0.2 > abs(cos("happy", "table"))
    assert cos("furious", "furious") == pytest.approx(1.0)


def test_offline_golden_indices():
    """Pin the hash scheme: a changed scheme silently invalidates every trained text model."""
    import zlib

    vec = word_vector("joy")
    grams = ["w:joy", "<jo", "joy", "oy>", "<joy", "joy>", "<joy>"]
    expected = np.zeros(TEXT_DIM, np.float32)
    for g in grams:
        h = zlib.crc32(g.encode())
        expected[h % TEXT_DIM] += 1.0 if (h >> 31) & 1 else -1.0
    np.testing.assert_allclose(vec, expected / np.linalg.norm(expected), rtol=1e-6)


def test_offline_empty_text_is_one_zero_row():
    intervals, features = offline("  ...  ", 1.5)
    assert features.shape == (1, TEXT_DIM) and not features.any()
    np.testing.assert_allclose(intervals, [[0.0, 1.5]])


def test_use_like_hub_one_row_per_utterance(hub_models):
    recipe = Recipe(text=f"hub:{hub_models['use']}")
    intervals, features = encode_text("I am happy", 1.25, recipe)
    assert features.shape == (1, 16) and features.dtype == np.float32
    np.testing.assert_allclose(intervals, [[0.0, 1.25]])
    other = encode_text("I am sad", 1.25, recipe)[1]
    assert not np.allclose(features, other)


def test_bert_pair_pooled_and_per_token(hub_models):
    pair = f"hub:{hub_models['bert_preprocess']},{hub_models['bert_encoder']}"
    intervals, pooled = encode_text("you did what", 3.0, Recipe(text=pair))
    assert pooled.shape == (1, 12)
    np.testing.assert_allclose(intervals, [[0.0, 3.0]])
    intervals, tokens = encode_text("you did what", 3.0, Recipe(text=pair, text_output_key="sequence_output"))
    assert tokens.shape == (5, 12)  # [CLS] you did what [SEP]: masked padding dropped
    np.testing.assert_allclose(intervals[:, 0], np.arange(5) * 0.6, atol=1e-12)
    np.testing.assert_allclose(tokens[0], pooled[0], rtol=1e-6)  # the tiny encoder pools [CLS]
    with pytest.raises(MmerError, match="output key 'logits'"):
        encode_text("x", 1.0, Recipe(text=pair, text_output_key="logits"))


def test_recipe_roundtrip_fingerprint_and_errors():
    recipe = Recipe.parse(audio="opensmile:ComParE_2016:functionals", text="none", fps=2.5)
    again = Recipe.from_dict(json.loads(json.dumps(recipe.to_dict())))
    assert again == recipe and again.fingerprint() == recipe.fingerprint()
    assert Recipe().fingerprint() != Recipe(fps=4.0).fingerprint()
    assert recipe.modalities == ("audio", "vision")
    for kwargs, message in [({"text": "glove"}, "--text glove"), ({"video": "hub:a,b"}, "--video"),
                            ({"audio": "opensmile:Foo"}, "opensmile:<set>"), ({"fps": 0}, "--fps"),
                            ({"text": "hub:https://tfhub.dev/google/universal-sentence-encoder"},
                             "not a model handle"),
                            ({"colour": 1}, "unknown option")]:
        with pytest.raises(MmerError, match=message):
            Recipe.parse(**kwargs)
    assert Recipe.parse(fps="2.5", face_crop="false", image_size="96") == Recipe(fps=2.5, face_crop=False, image_size=96)
    with pytest.raises(MmerError, match="--fps 'fast'"):
        Recipe.parse(fps="fast")
    with pytest.raises(MmerError, match="unknown field"):
        Recipe.from_dict({"audio": "logmel", "bogus": 1})
