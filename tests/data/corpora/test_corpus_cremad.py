"""CREMA-D: file names, the layout (VideoFlash preferred over AudioWAV), actor-independent folds, and a
generated miniature in the release layout reaching its table in one ``main.py`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import cremad, detect, media
from mmer_tf.errors import MmerError
from raw_media_support import have_tools

REPO = Path(__file__).resolve().parents[3]


def test_parse_name_fields_and_errors():
    assert cremad.parse_name("1091_WSI_DIS_HI") == {"actor": "1091", "sentence": "WSI", "emotion": "disgust",
                                                     "level": "high", "speaker": "1091"}
    for bad, message in [("1001_DFA_ANG", "not a CREMA-D file name"), ("1001_XYZ_ANG_XX", "sentence XYZ"),
                         ("1001_DFA_JOY_LO", "emotion JOY"), ("1001_DFA_ANG_ZZ", "level ZZ")]:
        with pytest.raises(MmerError, match=message):
            cremad.parse_name(bad)


def _touch(root: Path, names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    return root


def test_layout_prefers_the_flash_video_and_counts_what_it_passes_over(tmp_path):
    root = _touch(tmp_path / "CREMA-D", ["AudioWAV/1001_DFA_ANG_XX.wav", "VideoFlash/1001_DFA_ANG_XX.flv",
                                         "AudioWAV/1002_IEO_HAP_HI.wav", "AudioWAV/notes.wav",
                                         "AudioWAV/1003_TIE_SAD_LO.mp3"])
    assert cremad.detect(root) and detect(root) is cremad
    found = cremad.scan(root)
    assert [(r.id, r.media.suffix, r.text) for r in found.records] == [
        ("1001_DFA_ANG_XX", ".flv", "Don't forget a jacket"), ("1002_IEO_HAP_HI", ".wav", "It's eleven o'clock")]
    assert found.skipped == {"second copy of a recording": ["AudioWAV/1001_DFA_ANG_XX.wav"],
                             "not a CREMA-D file name": ["notes.wav"]}
    other = _touch(tmp_path / "other", ["AudioWAV/speech.wav", "VideoFlash/talk.flv"])
    assert not cremad.detect(other)


def test_actor_independent_folds_and_emotion_subset(tmp_path):
    names = [f"AudioWAV/{actor}_DFA_{emo}_XX.wav" for actor in range(1001, 1010) for emo in ("ANG", "HAP", "NEU")]
    root = _touch(tmp_path / "c", names)
    rows = [media.record_row(r) for r in cremad.scan(root).records]
    lab = cremad.label(rows, ExperimentConfig(num_folds=3, fold=1, emotions=("happy", "anger")))
    assert lab.classes == ("anger", "happy")
    assert sum(y is None for y in lab.label) == 9 and lab.excluded.count("emotion not selected (--emotions)") == 9
    by_actor = {}
    for row, fold in zip(rows, lab.fold):
        if fold is not None:
            by_actor.setdefault(row["actor"], set()).add(fold)
    assert all(len(f) == 1 for f in by_actor.values())  # never an actor in two folds
    assert lab.protocol["test"] == ["1004", "1005", "1006"] and lab.protocol["valid"] == ["1007", "1008", "1009"]
    assert cremad.label(rows, ExperimentConfig(num_folds=3)).classes == ("anger", "happy", "neutral")  # present ones
    with pytest.raises(MmerError, match="--emotions: joy not CREMA-D emotions"):
        cremad.label(rows, ExperimentConfig(emotions=("joy", "sad")))


@pytest.mark.slow
@pytest.mark.skipif(not have_tools(), reason="espeak-ng is not installed")
def test_cremad_miniature_reaches_its_table_in_one_command(tmp_path):
    from corpus_media_support import make_cremad

    root = make_cremad(tmp_path / "CREMA-D")
    command = [sys.executable, "main.py", "-df", str(root), "-lt", "category", "-mn", "lf_dnn", "-e", "6", "-b", "4",
               "--num_folds", "4", "--fold", "2", "--seed", "3", "--verbose", "0",
               "-pf", str(tmp_path / "cache"), "-mf", str(tmp_path / "models")]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=400, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    ids = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv").iloc[0]
    row = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "classification_category.csv").iloc[0]
    assert ids["corpus"] == "cremad"
    # test = actor 1003 (4 clips it never trained on: 2 happy, 2 sad); the majority baseline scores 0.5
    assert row["acc"] >= 0.75, row.to_dict()
    assert {"f1_happy", "f1_sad"} <= set(row.index)
