"""From the files researchers download to a table row, through ``python main.py``.

Each case writes a small corpus in its real layout with planted signal (``corpus_files``), trains a tiny
model for two epochs and checks the row it appends: the model must beat the trivial baseline, computed
here independently from the generated labels (sentiment: the training mean, as the runner's baseline;
category: the training majority class). One aligned (ef_lstm on an MMSA aligned_50 pickle), one
unaligned (MulT on MMSA unaligned_50's audio and vision), lf_dnn on a MultiBench pickle, and lf_dnn on a categorical
feature folder. Plus the safety path: a hostile pickle stops ``main.py`` with one line, runs nothing and
caches nothing.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corpus_files import feature_folder, mmsa_data, multibench_data, write_pickle

REPO = Path(__file__).resolve().parents[1]
COMMON = ["-e", "2", "-b", "16", "--seed", "7", "--verbose", "0"]


def _main(args, tmp_path, timeout=300):
    command = [sys.executable, "main.py", *args, "-pf", str(tmp_path / "cache"), "-mf", str(tmp_path / "models"), *COMMON]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _row(tmp_path, model, table):
    path = tmp_path / "models" / model / "csv" / f"{table}.csv"
    frame = pd.read_csv(path)
    assert len(frame) == 1
    return frame.iloc[0]


def _sentiment_baseline_mae(data, label_key):
    train = np.asarray(data["train"][label_key], dtype=np.float64).reshape(-1)
    test = np.asarray(data["test"][label_key], dtype=np.float64).reshape(-1)
    return float(np.mean(np.abs(test - train.mean())))


@pytest.mark.parametrize(
    "name, layout, model, extra",
    [
        ("aligned_50.pkl", "mmsa", "ef_lstm", []),
        # MulT on the two modalities that keep their own stored lengths (audio_lengths, vision_lengths): the
        # unaligned path, with a third of the three-modality graph (its tracing dominates a 2-epoch run).
        ("unaligned_50.pkl", "mmsa", "mult",
         ["--mult_layers", "1", "--mult_mem_layers", "1", "--mult_d", "20", "--modalities", "audio,vision"]),
        ("mosi_raw.pkl", "multibench", "lf_dnn", ["--lf_dnn_hidden", "32"]),
    ],
    ids=["mmsa-aligned-ef_lstm", "mmsa-unaligned-mult", "multibench-lf_dnn"],
)
@pytest.mark.slow
def test_sentiment_pickle_to_table_row(tmp_path, name, layout, model, extra):
    if layout == "mmsa":
        aligned = name.startswith("aligned")
        data = mmsa_data(sizes=(120, 30, 40), aligned=aligned, steps=(10, 10, 10) if aligned else (8, 20, 15), seed=11)
        label_key = "regression_labels"
    else:
        data = multibench_data(sizes=(120, 30, 40), seed=11, empty_text=1)
        data = {s: {k: v[1:] for k, v in d.items()} for s, d in data.items()}  # the oracle below sees kept rows only
        label_key = "labels"
    path = write_pickle(tmp_path / name, data)
    proc = _main(["-df", str(path), "-lt", "sentiment", "-mn", model, *extra], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = _row(tmp_path, model, "sentiment")
    baseline = _sentiment_baseline_mae(data, label_key)
    assert row["mae"] < baseline - 0.05, (row["mae"], baseline)
    assert row["corr"] > 0.5
    ids = pd.read_csv(tmp_path / "models" / model / "csv" / "model_ids.csv")
    assert ids.loc[0, "corpus"] == layout and ids.loc[0, "task"] == "sentiment"
    cached = list((tmp_path / "cache").glob("*.npz"))
    assert len(cached) == 2  # the converted corpus and its folds: later runs never unpickle


@pytest.mark.slow
def test_feature_folder_category_to_table_row(tmp_path):
    root = feature_folder(tmp_path / "merc", sizes=(150, 30, 60), seed=5)
    (root / "train" / "speech" / "train_0007.npy").unlink()  # one segment lacks its audio: dropped, and said so
    proc = _main(["-df", str(root), "-lt", "category", "-mn", "lf_dnn", "--lf_dnn_hidden", "32",
                  "--modality_map", "speech=audio,text=text,face=vision"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dropped 1 segments with no audio file, e.g. train_0007" in proc.stderr
    row = _row(tmp_path, "lf_dnn", "classification_category")
    labels = pd.read_csv(root / "labels.csv")
    labels = labels[labels.id != "train_0007"]
    majority = labels[labels.split == "train"].label.value_counts().idxmax()
    test = labels[labels.split == "test"].label
    baseline_acc = float((test == majority).mean())
    share = baseline_acc
    baseline_f1_macro = (2 * share / (1 + share)) / 3  # majority class predicted for every segment, 3 classes
    assert row["acc"] > baseline_acc + 0.1, (row["acc"], baseline_acc)
    assert row["f1_macro"] > baseline_f1_macro + 0.2
    assert {"balanced_acc", "f1_weighted", "f1_micro", "f1_ang", "f1_hap", "f1_neu"} <= set(row.index)


class _Hostile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.slow  # ~13 s in a not-slow run on the shared machine
def test_hostile_pickle_stops_main_with_one_line(tmp_path):
    marker = tmp_path / "code_ran"
    data = mmsa_data(sizes=(6, 3, 3))
    data["valid"]["raw_text"] = _Hostile(marker)
    path = tmp_path / "aligned_50.pkl"
    path.write_bytes(pickle.dumps(data))
    proc = _main(["-df", str(path), "-lt", "sentiment", "-mn", "lf_dnn"], tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: refused to unpickle") and "system" in lines[0]
    assert not marker.exists()
    assert not list((tmp_path / "cache").glob("*.npz")) if (tmp_path / "cache").exists() else True
