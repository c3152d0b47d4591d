"""Feature folders (ROOT/<split>/<modality>/<id>.npy|.npz + labels.csv) -> SegmentSet."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from corpus_files import feature_folder
from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import feature_folder as ff
from mmer_tf.data.segments import LABEL_NAMES
from mmer_tf.errors import MmerError

MAP = ("speech=audio", "text=text", "face=vision")


def _config(**changes):
    return ExperimentConfig(modality_map=MAP).replace(**changes)


def _load(root, config=None):
    config = config or _config()
    return ff.load_segments(ff.describe(root, config), config, progress=False)


@pytest.fixture
def root(tmp_path):
    return feature_folder(tmp_path / "corpus", sizes=(60, 15, 15), seed=0)


def _labels(root):
    with open(root / "labels.csv") as handle:
        return list(csv.DictReader(handle))


def test_categorical_folder(root):
    assert ff.detect(root)
    info = ff.describe(root, _config())
    assert info.label_names == ("category",) and info.classes == ("ang", "hap", "neu")
    assert info.has_own_split and info.params["missing"] == "drop"
    assert len(info.files) == 1 + 90 * 3
    segments, summary = _load(root)
    rows = _labels(root)
    assert segments.ids == [r["id"] for r in rows]
    assert segments.info["fold"] == ["train"] * 60 + ["valid"] * 15 + ["test"] * 15  # val/ -> "valid"
    assert segments.info["classes"] == ["ang", "hap", "neu"]
    np.testing.assert_array_equal(segments.labels[:, 0], [info.classes.index(r["label"]) for r in rows])
    first = rows[0]["id"]
    np.testing.assert_array_equal(segments.features["audio"][0], np.load(root / "train" / "speech" / f"{first}.npy"))
    np.testing.assert_array_equal(segments.features["text"][0], np.load(root / "train" / "text" / f"{first}.npz")["embedding"])
    assert set(segments.lengths("vision")) == {1}  # [D] vectors are one-step sequences
    assert segments.dims() == {"text": 8, "audio": 6, "vision": 5}
    assert not segments.aligned
    assert summary["segments"] == 90 and summary["dropped"] == {} and summary["splits"] == {"train": 60, "valid": 15, "test": 15}


def test_planted_signal_is_learnable(tmp_path):
    root = feature_folder(tmp_path / "c", sizes=(120, 10, 60), seed=1)
    segments, _ = _load(root)
    x = np.stack([s.mean(axis=0) for s in segments.features["vision"]])
    y = segments.labels[:, 0].astype(int)
    fold = np.array(segments.info["fold"])
    centroids = np.stack([x[(fold == "train") & (y == k)].mean(axis=0) for k in range(3)])
    predicted = np.argmin(((x[fold == "test"][:, None] - centroids) ** 2).sum(-1), axis=1)
    assert (predicted == y[fold == "test"]).mean() > 0.6  # chance is 1/3


def test_usual_names_map_by_default_and_unknown_ones_are_listed(root, tmp_path):
    assert ff.describe(root, ExperimentConfig()).params["modality_map"] == ["face=vision", "speech=audio", "text=text"]
    odd = tmp_path / "odd"
    for split in ("train", "val", "test"):
        (odd / split / "voice").mkdir(parents=True)
    (odd / "labels.csv").write_text("id,split,label\nx,train,a\n")
    with pytest.raises(MmerError, match=r"modality folders voice are not text/audio/vision nor a usual name for one; "
                                        r"map them with --modality_map"):
        ff.describe(odd, ExperimentConfig())
    with pytest.raises(MmerError, match=r"--modality_map: no folder named voice"):
        ff.describe(root, ExperimentConfig(modality_map=("voice=audio",)))
    with pytest.raises(MmerError, match=r"--modality_map 'speech=sound'"):
        ff.describe(root, ExperimentConfig(modality_map=("speech=sound",)))


def test_a_map_adds_to_the_usual_names_and_unclaimed_folders_are_ignored(root):
    for split in ("train", "val", "test"):
        (root / split / "notes").mkdir()
    segments, summary = _load(root, _config(modality_map=("speech=audio",)))
    assert sorted(segments.features) == ["audio", "text", "vision"] and summary["ignored_folders"] == ["notes"]
    segments, summary = _load(root, _config(modality_map=("text=audio",)))  # text claimed: speech unused
    assert segments.dims()["audio"] == 8 and summary["ignored_folders"] == ["notes", "speech"]


def test_score_and_emotion_schemas(tmp_path):
    root = feature_folder(tmp_path / "s", sizes=(20, 5, 5), modalities=("audio", "vision"), dims=(4, 3),
                          score="valence", vectors=("audio", "vision"))
    segments, _ = _load(root, ExperimentConfig())
    assert segments.info["label_names"] == ["sentiment"] and segments.aligned  # all one-step: aligned
    np.testing.assert_allclose(segments.labels[:, 0], [float(r["valence"]) for r in _labels(root)], rtol=1e-6)

    rows = _labels(root)
    with open(root / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "split", "happy", "sad", "anger", "surprise", "disgust", "fear"])
        for i, r in enumerate(rows):
            writer.writerow([r["id"], r["split"], i % 4, 0, 1.5, 0, 0, 0.33])
    info = ff.describe(root, ExperimentConfig())
    assert info.label_names == LABEL_NAMES
    segments, _ = _load(root, ExperimentConfig())
    assert np.isnan(segments.labels[:, 0]).all()
    np.testing.assert_allclose(segments.labels[:3, 1:], [[0, 0, 1.5, 0, 0, 0.33], [1, 0, 1.5, 0, 0, 0.33], [2, 0, 1.5, 0, 0, 0.33]], rtol=1e-6)


def _remove_and_nan(root):
    rows = _labels(root)
    (root / "train" / "speech" / f"{rows[1]['id']}.npy").unlink()
    (root / "train" / "speech" / f"{rows[2]['id']}.npy").unlink()
    np.save(root / "val" / "face" / f"{rows[61]['id']}.npy", np.full(5, np.nan, np.float32))
    return rows


def test_missing_and_nan_dropped_and_reported(root):
    rows = _remove_and_nan(root)
    segments, summary = _load(root)
    assert len(segments) == 87
    assert summary["dropped"] == {"segments with no audio file": 2, "segments whose vision file is all NaN": 1}
    assert summary["dropped_examples"] == {"segments with no audio file": [rows[1]["id"], rows[2]["id"]],
                                           "segments whose vision file is all NaN": [rows[61]["id"]]}
    assert rows[1]["id"] not in segments.ids


def test_missing_and_nan_imputed(root):
    rows = _remove_and_nan(root)
    segments, summary = _load(root, _config(missing_modality="impute"))
    assert len(segments) == 90 and summary["dropped"] == {}
    assert summary["imputed"] == {"segments with no audio file": 2, "segments whose vision file is all NaN": 1}
    np.testing.assert_array_equal(segments.features["audio"][1], np.zeros((1, 6), np.float32))
    np.testing.assert_array_equal(segments.features["vision"][61], np.zeros((1, 5), np.float32))


def test_missing_and_nan_as_errors(root):
    rows = _remove_and_nan(root)
    with pytest.raises(MmerError, match=rf"speech/{rows[1]['id']}\.npy: missing file for segment"):
        _load(root, _config(missing_modality="error"))
    (root / "train" / "speech" / f"{rows[1]['id']}.npy").write_bytes(b"")
    np.save(root / "train" / "speech" / f"{rows[1]['id']}.npy", np.zeros((2, 6), np.float32))
    np.save(root / "train" / "speech" / f"{rows[2]['id']}.npy", np.zeros((2, 6), np.float32))
    with pytest.raises(MmerError, match=rf"face/{rows[61]['id']}\.npy: all NaN for segment"):
        _load(root, _config(missing_modality="error"))


def _rewrite_labels(root, header, rows):
    with open(root / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.mark.parametrize(
    "case,pattern",
    [
        ("no_labels", r"labels\.csv: missing"),
        ("no_split_column", r"labels\.csv: header 'id,label' needs distinct columns id and split"),
        ("bad_split", r"labels\.csv: line 2: split 'training' is not train"),
        ("two_scores", r"labels\.csv: label columns a,b: expected 'label'"),
        ("bad_score", r"labels\.csv: line 3: a 'high' is not a number"),
        ("score_range", r"labels\.csv: line 2 \(segment 'train_0000'\): a 7 is not in \[-3, 3\]"),
        ("duplicate", r"labels\.csv: line 3: segment 'train_0000' \(train\) repeats line 2"),
        ("no_features", r"labels\.csv: line 92: segment 'ghost' \(test\) has no feature file"),
        ("empty_split", r"split 'valid' \(val/\) has no segments"),
        ("no_valid_folder", r"no valid split folder"),
        ("dims", r"speech/train_0003\.npy: 7 features per step, but .*train_0000\.npy has 6"),
        ("rank", r"speech/train_0003\.npy: shape \(2, 2, 6\), expected \[T, D\] or \[D\]"),
        ("object", r"speech/train_0003\.npy: not a readable numeric"),
        ("npz_keys", r"text/train_0003\.npz: holds 2 arrays \(a, b\); expected exactly one"),
    ],
)
def test_bad_input_is_one_line(root, case, pattern):
    rows = [[r["id"], r["split"], r["label"]] for r in _labels(root)]
    speech = root / "train" / "speech" / "train_0003.npy"
    if case == "no_labels":
        (root / "labels.csv").unlink()
    elif case == "no_split_column":
        _rewrite_labels(root, ["id", "label"], [[r[0], r[2]] for r in rows])
    elif case == "bad_split":
        rows[0][1] = "training"
        _rewrite_labels(root, ["id", "split", "label"], rows)
    elif case == "two_scores":
        _rewrite_labels(root, ["id", "split", "a", "b"], [r[:2] + [1, 2] for r in rows])
    elif case == "bad_score":
        _rewrite_labels(root, ["id", "split", "a"], [r[:2] + [1 if i != 1 else "high"] for i, r in enumerate(rows)])
    elif case == "score_range":
        _rewrite_labels(root, ["id", "split", "a"], [r[:2] + [7 if i == 0 else 0] for i, r in enumerate(rows)])
    elif case == "duplicate":
        rows[1][0] = rows[0][0]
        _rewrite_labels(root, ["id", "split", "label"], rows)
    elif case == "no_features":
        _rewrite_labels(root, ["id", "split", "label"], rows + [["ghost", "test", "hap"]])
    elif case == "empty_split":
        _rewrite_labels(root, ["id", "split", "label"], [r for r in rows if r[1] != "val"])
    elif case == "no_valid_folder":
        (root / "val").rename(root / "validation")
    elif case == "dims":
        np.save(speech, np.zeros((2, 7), np.float32))
    elif case == "rank":
        np.save(speech, np.zeros((2, 2, 6), np.float32))
    elif case == "object":
        np.save(speech, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif case == "npz_keys":
        np.savez(root / "train" / "text" / "train_0003.npz", a=np.zeros(3), b=np.zeros(3))
    with pytest.raises(MmerError, match=pattern) as info:
        _load(root)
    assert "\n" not in str(info.value)


def test_integer_class_names_sort_by_value(root):
    rows = [[r["id"], r["split"], str([2, 10, 1][i % 3])] for i, r in enumerate(_labels(root))]
    _rewrite_labels(root, ["id", "split", "label"], rows)
    info = ff.describe(root, _config())
    assert info.classes == ("1", "2", "10")
    segments, _ = _load(root)
    np.testing.assert_array_equal(segments.labels[:3, 0], [1, 2, 0])
