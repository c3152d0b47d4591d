"""Defaults follow the data: the task, its head and the modalities a run uses when the user typed none.

End to end through ``main.py`` on a generated feature folder in seed 003's own layout (``speech/``,
``text/``, ``video/``, ``video_embedding/``, a ``label`` column): the two vision folders are one question;
answered with a two-folder ``--modality_map``, the run keeps the folder named ``text``, picks the category
task by itself and says why. Directly: every other corpus kind's choice (built-in sample and CMU-MOSEI keep
``all``, sentiment-only corpora get ``sentiment``), typed flags win, RAVDESS defaults to audio and vision.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from corpus_files import feature_folder
from mmer_tf import corpus_defaults
from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import ravdess
from mmer_tf.data.corpora.base import CorpusInfo
from mmer_tf.data.segments import LABEL_NAMES

ROOT = Path(__file__).resolve().parents[1]
LEFT_OPEN = ("label_type", "final_activ", "modalities")


def main(tmp_path, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "-pf", str(tmp_path / "pf"),
                           "-mf", str(tmp_path / "models"), *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)


def seed_003_layout(root: Path) -> Path:
    feature_folder(root, sizes=(40, 10, 10), modalities=("speech", "text", "video"), dims=(6, 8, 5), vectors=())
    for split in ("train", "val", "test"):
        shutil.copytree(root / split / "video", root / split / "video_embedding")
    return root


@pytest.mark.slow
def test_a_seed_003_feature_folder_asks_which_vision_then_trains_its_own_task(tmp_path):
    corpus = seed_003_layout(tmp_path / "feats")
    asked = main(tmp_path, "-df", corpus, "-mn", "lf_dnn", "-e", "1")
    assert asked.returncode == 2, asked.stderr[-2000:]
    last = asked.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "video and video_embedding both hold vision; which one?" in last
    assert "--modality_map video_embedding=vision" in last and "Traceback" not in asked.stderr

    done = main(tmp_path, "-df", corpus, "-mn", "lf_dnn", "-e", "1", "--modality_map",
                "speech=audio,video_embedding=vision")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "task: -lt category (-lt not given; corpus features has category, not the labels of -lt all)" in done.stderr
    assert "model lf_dnn (text,audio,vision), task category" in done.stderr  # the folder named text kept
    csv_dir = tmp_path / "models" / "lf_dnn" / "csv"
    with open(csv_dir / "model_ids.csv") as handle:
        row = next(csv.DictReader(handle))
    assert row["label_type"] == "category" and row["final_activ"] == "softmax"
    assert row["modalities"] == "text,audio,vision"
    assert (csv_dir / "classification_category.csv").is_file()


def info(label_names, classes=(), name="corpus"):
    return CorpusInfo(name=name, path=Path("."), files=(), label_names=tuple(label_names), classes=tuple(classes))


@pytest.mark.parametrize("labels,classes,task,activation", [
    (LABEL_NAMES, (), "all", "linear"),  # CMU-MOSEI and the built-in sample: the seed's default stays
    (("sentiment",), (), "sentiment", "linear"),  # CMU-MOSI, MMSA and MultiBench pickles
    (("category",), ("ang", "hap", "neu"), "category", "softmax"),  # RAVDESS, MELD, videos, feature folders
])
def test_the_task_left_open_is_the_corpus_own(labels, classes, task, activation):
    chosen = corpus_defaults.follow_corpus(ExperimentConfig(from_data=LEFT_OPEN), None, info(labels, classes))
    assert (chosen.label_type, chosen.final_activ) == (task, activation)


def test_typed_flags_win_over_the_data():
    typed = ExperimentConfig(label_type="coarse", final_activ="sigmoid", modalities=("text",))
    corpus = info(("category",), ("a", "b"), "ravdess")
    assert corpus_defaults.follow_corpus(typed, ravdess, corpus) == typed
    head_typed = ExperimentConfig(final_activ="sigmoid", from_data=("label_type",))
    assert corpus_defaults.follow_corpus(head_typed, None, corpus).final_activ == "sigmoid"


def test_ravdess_trains_on_audio_and_vision_unless_told():
    corpus = info(("category",), ("calm", "happy"), "ravdess")
    chosen = corpus_defaults.follow_corpus(ExperimentConfig(from_data=LEFT_OPEN), ravdess, corpus)
    assert chosen.modalities == ("audio", "vision") and chosen.label_type == "category"
    told = ExperimentConfig(modalities=("text", "audio"), from_data=("label_type", "final_activ"))
    assert corpus_defaults.follow_corpus(told, ravdess, corpus).modalities == ("text", "audio")


@pytest.mark.slow
def test_a_default_ravdess_model_predicts_without_a_transcript(tmp_path):
    from raw_media_support import have_tools, make_ravdess

    if not have_tools():
        pytest.skip("espeak-ng is not installed")
    root = make_ravdess(tmp_path / "RAVDESS", actors=(1, 2, 3), statements=(1,))
    done = main(tmp_path, "-df", root, "--emotions", "happy,sad", "--num_folds", "3", "--fold", "2", "-mn", "lf_dnn",
                "-e", "1", "-b", "8")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "modalities: audio,vision (--modalities not given; RAVDESS's transcript" in done.stderr
    assert "task: -lt category" in done.stderr
    model = next((tmp_path / "models" / "lf_dnn").glob("*.keras"))
    clip = root / "Actor_03" / "01-01-03-01-01-01-03.mp4"
    predicted = subprocess.run([sys.executable, "-m", "mmer_tf", "predict", "--model", str(model),
                                "--out", str(tmp_path / "captioned.mp4"), str(clip)],
                               cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert "happy" in predicted.stdout or "sad" in predicted.stdout
