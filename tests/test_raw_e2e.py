"""From raw media to a table row through one ``python main.py`` command: RAVDESS and MELD miniatures.

The corpora are generated here in their real layouts (``raw_media_support``: espeak-ng speech with the
emotion in pitch and rate, a drawn face with the emotion in the mouth). RAVDESS: 4 actors x 2 emotions
x 2 statements x 2 repetitions, ``--num_folds 4`` so each fold is one actor; the model must beat the
majority baseline clearly on a speaker-independent test fold (an actor it never saw). The second run
(another fold, the unaligned view) must reuse the featurized folder, not featurize again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from raw_media_support import have_tools, make_meld, make_ravdess

REPO = Path(__file__).resolve().parents[1]
COMMON = ["-lt", "category", "-b", "8", "--seed", "3", "--verbose", "0"]

pytestmark = pytest.mark.skipif(not have_tools(), reason="espeak-ng is not installed")


def _main(args, tmp_path, timeout=300):
    command = [sys.executable, "main.py", *args, "-pf", str(tmp_path / "cache"), "-mf", str(tmp_path / "models"),
               *COMMON]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _row(tmp_path, model):
    frame = pd.read_csv(tmp_path / "models" / model / "csv" / "classification_category.csv")
    return frame.iloc[-1]


@pytest.fixture(scope="module")
def ravdess_root(tmp_path_factory):
    return make_ravdess(tmp_path_factory.mktemp("media") / "RAVDESS")


def _folds(tmp_path, **changes):
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.data import dataset

    config = ExperimentConfig(pickle_folder=str(tmp_path / "cache"), label_type="category", **changes)
    return dataset.load_folds(config, progress=False)


@pytest.mark.slow
def test_ravdess_media_to_table_speaker_independent(ravdess_root, tmp_path):
    _main(["--corpus", "ravdess", "-df", str(ravdess_root), "--emotions", "happy,sad", "--num_folds", "4",
           "--fold", "2", "-mn", "lf_dnn", "-e", "4"], tmp_path)
    row = _row(tmp_path, "lf_dnn")
    # 8 test clips of Actor_03 (never trained on), 4 happy + 4 sad: the majority baseline scores 0.5
    assert row["acc"] >= 0.875 and row["f1_macro"] >= 0.85, row.to_dict()
    assert {"f1_happy", "f1_sad", "balanced_acc", "f1_weighted"} <= set(row.index)

    folds, info = _folds(tmp_path, dataset_folder=str(ravdess_root), corpus="ravdess", emotions=("happy", "sad"),
                         num_folds=4, fold=2)
    assert info["cache_hit"]  # the run's own folds, read back from its cache
    actors = {name: {s[-6:-3] for s in fold.ids} for name, fold in folds.items()}
    assert actors == {"test": {"-03"}, "valid": {"-04"}, "train": {"-01", "-02"}}
    assert info["classes"] == ["happy", "sad"] and info["counts"] == {"train": 16, "valid": 8, "test": 8}
    assert all(len(x) == 1 for x in folds["train"].features["audio"])  # aligned: one step per clip

    featurized = list((tmp_path / "cache").glob("featurized_ravdess_*"))
    assert len(featurized) == 1 and (featurized[0] / "featurized.json").is_file()
    stamp = (featurized[0] / "featurized.json").stat().st_mtime_ns
    # another fold and the unaligned view (each modality at its own rate, MulT's input; lf_dnn here for
    # time): the same featurized folder, nothing featurized again
    _main(["--corpus", "ravdess", "-df", str(ravdess_root), "--emotions", "happy,sad", "--num_folds", "4",
           "--fold", "0", "--noalign_to_text", "-mn", "lf_dnn", "-e", "2", "-cn", "unaligned"], tmp_path)
    assert (featurized[0] / "featurized.json").stat().st_mtime_ns == stamp
    assert len(list((tmp_path / "cache").glob("featurized_ravdess_*"))) == 1
    assert len(pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "unaligned_classification_category.csv")) == 1
    folds, info = _folds(tmp_path, dataset_folder=str(ravdess_root), corpus="ravdess", emotions=("happy", "sad"),
                         num_folds=4, fold=0, align_to_text=False)
    train = folds["train"]
    assert not train.aligned
    assert (train.lengths("audio") > 10 * train.lengths("vision")).all()  # 100 Hz frames vs 5 fps


@pytest.mark.slow
def test_meld_media_to_table_official_splits(tmp_path_factory, tmp_path):
    root = make_meld(tmp_path_factory.mktemp("media") / "MELD.Raw", {"train": 6, "dev": 2, "test": 3})
    result = _main(["-df", str(root), "-mn", "lf_dnn", "-e", "4", "--meld_labels", "emotion"], tmp_path)
    row = _row(tmp_path, "lf_dnn")
    assert row["acc"] >= 5 / 6 and row["f1_weighted"] >= 0.8, (row.to_dict(), result.stderr[-2000:])
    folds, info = _folds(tmp_path, dataset_folder=str(root), meld_labels="emotion")
    assert info["corpus"] == "meld" and info["counts"] == {"train": 12, "valid": 4, "test": 6}
    assert info["classes"] == ["neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger"]
    assert all(s.startswith("test_dia") for s in folds["test"].ids)
    per_segment = folds["test"].info["per_segment"]
    first = per_segment[folds["test"].ids[0]]
    assert first == {"dialogue": "test_0", "utterance": "0", "speaker": "Ross"}
    manifest = json.loads(Path(info["dataset_cache_path"]).with_suffix(".json").read_text())
    assert manifest["extra"]["load_summary"]["segments"] == 22
