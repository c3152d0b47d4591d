"""Hostile and broken inputs a new user hands the suite: each is one ``error:`` line, or simply works.

Found by trying them (each refused with a traceback or accepted silently before): a ``.keras`` file that is
not one, number flags given NaN or infinity, ``labels.csv`` saved as UTF-16 or in a legacy encoding, and
paths with spaces and non-ASCII letters.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from absl import flags

from corpus_files import feature_folder
from mmer_tf import cli_flags, train
from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import feature_folder as ff
from mmer_tf.errors import MmerError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("content", ["text", "empty", "zip without config", "truncated"])
def test_a_keras_file_that_is_not_one_is_one_line(tmp_path, content):
    path = tmp_path / "model é.keras"
    if content == "text":
        path.write_text("hello")
    elif content == "empty":
        path.write_bytes(b"")
    elif content == "zip without config":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "hi")
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{}" * 1000)
        path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(MmerError) as refused:
        train.load_model(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: not a") and "\n" not in message


def config_of(*argv):
    values = flags.FlagValues()
    cli_flags.define_flags(values)
    values(["main.py", *argv])
    return cli_flags.config_from_flags(values)


@pytest.mark.parametrize("argv,said", [
    (("-d", "nan"), "-d/--dropout_rate: must be a finite number, got nan"),
    (("-lr", "inf"), "-lr/--learning_rate: must be a finite number, got inf"),
    (("-tp", "0,nan"), "-tp/--threshold_emo_present: thresholds must lie in [0, 3]"),
])
def test_number_flags_refuse_nan_and_infinity(argv, said):
    with pytest.raises(MmerError) as refused:
        config_of(*argv)
    assert str(refused.value) == said


@pytest.mark.slow
def test_main_refuses_a_nan_dropout_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "-d", "nan", "-pf", str(tmp_path / "pf")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "error: -d/--dropout_rate: must be a finite number, got nan"
    assert not (tmp_path / "pf").exists()


@pytest.fixture
def corpus(tmp_path):
    """A labelled feature folder under a path with a space and non-ASCII letters."""
    return feature_folder(tmp_path / "données d'essai" / "feats é", sizes=(12, 4, 4), vectors=())


def load(root):
    config = ExperimentConfig()
    return ff.load_segments(ff.describe(root, config), config, progress=False)


def test_a_path_with_spaces_and_accents_loads(corpus):
    segments, _ = load(corpus)
    assert len(segments) == 20 and sorted(segments.features) == ["audio", "text", "vision"]


def test_labels_saved_as_utf16_load_like_utf8(corpus):
    expected, _ = load(corpus)
    labels = corpus / "labels.csv"
    labels.write_bytes(labels.read_text(encoding="utf-8").encode("utf-16"))  # with its BOM
    again, _ = load(corpus)
    assert again.ids == expected.ids
    np.testing.assert_array_equal(again.labels, expected.labels)


@pytest.mark.parametrize("damage,said", [
    (lambda text: text.replace("ang", "àng").encode("latin-1"), "not UTF-8 text (byte"),
    (lambda text: text.encode("utf-8") + b"\x00\x00", "holds NUL bytes"),
])
def test_labels_in_another_encoding_are_one_line(corpus, damage, said):
    labels = corpus / "labels.csv"
    labels.write_bytes(damage(labels.read_text(encoding="utf-8")))
    with pytest.raises(MmerError) as refused:
        load(corpus)
    assert str(refused.value).startswith(f"{labels}: {said}") and "\n" not in str(refused.value)


def test_a_video_folders_labels_in_utf16_are_detected_and_read_and_latin1_is_one_line(tmp_path):
    from mmer_tf.data.corpora import videos

    folder = tmp_path / "clips ü"
    folder.mkdir()
    table = "file,label,text\nä.mp4,happy,\"Hi, there\"\nb.mp4,sad,Bye\n"
    (folder / "labels.csv").write_bytes(table.encode("utf-16"))
    assert videos.detect(folder)
    rows = videos.read_labels(folder / "labels.csv")
    assert [(r["file"], r["label"], r["text"]) for r in rows] == [("ä.mp4", "happy", "Hi, there"), ("b.mp4", "sad", "Bye")]
    (folder / "labels.csv").write_bytes(table.encode("latin-1"))
    assert videos.detect(folder)  # found by its header; what is wrong is then said in one line
    with pytest.raises(MmerError, match=r"labels.csv: not UTF-8 text \(byte \d+\); save it as UTF-8"):
        videos.read_labels(folder / "labels.csv")


@pytest.mark.parametrize("values", ["strings", "complex"])
def test_a_csd_with_non_numeric_features_is_one_line_naming_file_and_video(tmp_path, values):
    import h5py

    from mmer_tf.formats.csd import CsdReader, write_csd

    path = tmp_path / "séquence d'essai.csd"
    rng = np.random.default_rng(0)
    write_csd(path, "COVAREP", {v: {"intervals": np.stack([np.arange(3.0), np.arange(3.0) + 1], 1),
                                    "features": rng.normal(size=(3, 4)).astype(np.float32)} for v in ("a", "b")})
    with h5py.File(path, "r+") as handle:
        group = handle["COVAREP"]["data"]["b"]
        del group["features"]
        group["features"] = np.array([[b"x"] * 4] * 3) if values == "strings" else np.zeros((3, 4), np.complex64)
    with CsdReader(path) as reader:
        reader.read("a")
        with pytest.raises(MmerError) as refused:
            reader.read("b")
    assert str(refused.value).startswith(f"{path}") and "video 'b'" in str(refused.value)
    assert "features hold" in str(refused.value) and "not real numbers" in str(refused.value)
