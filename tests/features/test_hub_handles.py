"""TF Hub and Kaggle Models handles in ``hub:`` recipes: both forms parse, resolve to where the download
tools cached them, and an absent model is a one-line error (nothing is ever downloaded)."""

from __future__ import annotations

import hashlib

import pytest

from mmer_tf.errors import MmerError
from mmer_tf.features import Recipe
from mmer_tf.features import hub_handles
from mmer_tf.features.recipe import hub_paths


@pytest.mark.parametrize("text, expected", [
    ("https://tfhub.dev/google/yamnet/1", ("tfhub", "google", "yamnet", "1", "", "")),
    ("tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5",
     ("tfhub", "google", "imagenet/mobilenet_v2_100_224/feature_vector", "5", "", "")),
    ("https://www.kaggle.com/models/google/yamnet/TensorFlow2/yamnet/1",
     ("kaggle", "google", "yamnet", "1", "TensorFlow2", "yamnet")),
    ("kaggle.com/models/google/trillsson/tensorFlow2/1/1/", ("kaggle", "google", "trillsson", "1", "tensorFlow2", "1")),
])
def test_both_handle_forms_parse(text, expected):
    h = hub_handles.parse(text, "--audio")
    assert (h.source, h.publisher, h.model, h.version, h.framework, h.variation) == expected


@pytest.mark.parametrize("text", ["https://example.com/model", "https://tfhub.dev/google/yamnet",
                                  "https://www.kaggle.com/models/google/yamnet"])
def test_bad_handles_are_refused_in_one_line(text):
    with pytest.raises(MmerError) as err:
        Recipe(audio=f"hub:{text}")
    assert str(err.value).startswith(f"--audio hub:{text}: not a model handle") and "\n" not in str(err.value)


def _saved_model(folder):
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"")
    return folder


def test_tfhub_handle_resolves_to_tensorflow_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    url = "https://tfhub.dev/google/yamnet/1"
    cached = _saved_model(tmp_path / "tfhub" / hashlib.sha1(url.encode()).hexdigest())
    recipe = Recipe(audio="hub:tfhub.dev/google/yamnet/1")  # written without https://: same download
    assert hub_paths(recipe.audio, "--audio") == [cached]


def test_both_forms_resolve_to_the_kagglehub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    cached = _saved_model(tmp_path / "kagglehub" / "models" / "google" / "yamnet" / "tensorFlow2" / "yamnet" / "1")
    kaggle = "https://www.kaggle.com/models/google/yamnet/tensorFlow2/yamnet/1"
    assert hub_paths(f"hub:{kaggle}", "--audio") == [cached]
    assert hub_paths("hub:https://tfhub.dev/google/yamnet/1", "--audio") == [cached]
    _saved_model(tmp_path / "kagglehub" / "models" / "google" / "yamnet" / "tensorFlow1" / "yamnet" / "1")
    with pytest.raises(MmerError, match="several downloaded variations"):
        hub_paths("hub:https://tfhub.dev/google/yamnet/1", "--audio")
    assert hub_paths(f"hub:{kaggle}", "--audio") == [cached]  # the Kaggle form names one


def test_absent_handle_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    with pytest.raises(MmerError) as err:
        hub_paths("hub:https://tfhub.dev/google/yamnet/1", "--audio")
    message = str(err.value)
    assert "not downloaded on this machine" in message and str(tmp_path / "tfhub") in message
    assert "\n" not in message


def test_local_paths_still_pass_through(tmp_path):
    assert hub_paths(f"hub:{tmp_path}/a,{tmp_path}/b", "--text") == [tmp_path / "a", tmp_path / "b"]
