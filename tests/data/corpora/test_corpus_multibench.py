"""MultiBench affect pickles -> SegmentSet, read as MultiBench's get_data.py reads them (front padding)."""

from __future__ import annotations

import numpy as np
import pytest

from corpus_files import mmsa_data, multibench_data, write_pickle
from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import mmsa, multibench
from mmer_tf.errors import MmerError

CONFIG = ExperimentConfig()
SPLITS = ("train", "valid", "test")


def _load(path):
    return multibench.load_segments(multibench.describe(path, CONFIG), CONFIG, progress=False)


def _multibench_oracle(data, aligned):
    """What MultiBench's Affectdataset.__getitem__ returns per kept segment (numpy transcription of its rule)."""
    out = {m: [] for m in ("text", "audio", "vision")}
    for split in SPLITS:
        d = data[split]
        for i in range(len(d["labels"])):
            if d["text"][i].sum() == 0:  # drop_entry
                continue
            if aligned:
                start = np.nonzero(d["text"][i])[0][0]
                for m in out:
                    out[m].append(d[m][i][start:])
            else:
                for m in out:
                    out[m].append(d[m][i][np.nonzero(d[m][i])[0][0]:])
    return out


@pytest.mark.parametrize("aligned", [True, False])
def test_segments_match_multibench_reading(tmp_path, aligned):
    steps = (10, 10, 10) if aligned else (8, 20, 15)
    data = multibench_data(aligned=aligned, steps=steps, empty_text=2, seed=1)
    segments, summary = _load(write_pickle(tmp_path / "mosi_raw.pkl", data))
    oracle = _multibench_oracle(data, aligned)
    assert len(segments) == 150 - 6 and segments.aligned == aligned
    assert summary["dropped"] == {"segments with all-zero text": 6} and len(summary["dropped_examples"]["segments with all-zero text"]) == 5
    for m in oracle:
        assert len(segments.features[m]) == len(oracle[m])
        for got, want in zip(segments.features[m], oracle[m]):
            np.testing.assert_array_equal(got, want)
    assert segments.info["fold"] == ["train"] * 88 + ["valid"] * 28 + ["test"] * 28
    want_labels = np.concatenate([data[s]["labels"].reshape(-1)[2:] for s in SPLITS])
    np.testing.assert_array_equal(segments.labels[:, 0], want_labels)
    assert segments.ids[0] == "trainvid2$_$2"  # id rows [video, clip] joined
    assert segments.info["label_names"] == ["sentiment"]


def test_unaligned_all_zero_vision_dropped(tmp_path):
    data = multibench_data(aligned=False, steps=(8, 20, 15), seed=2)
    data["test"]["vision"][4] = 0.0
    segments, summary = _load(write_pickle(tmp_path / "mosei_noalign.pkl", data))
    assert summary["dropped"] == {"segments with all-zero vision": 1}
    assert summary["dropped_examples"]["segments with all-zero vision"] == ["testvid4$_$0"]
    assert len(segments) == 149


def test_detect_and_planted_signal(tmp_path):
    path = write_pickle(tmp_path / "mosei_senti_data.pkl", multibench_data(sizes=(200, 40, 60), seed=3))
    assert multibench.detect(path) and not mmsa.detect(path)
    assert not multibench.detect(write_pickle(tmp_path / "x.pkl", mmsa_data(sizes=(3, 2, 2))))
    segments, _ = _load(path)
    means = np.stack([x.mean(axis=0) for x in segments.features["text"]])
    fold = np.array(segments.info["fold"])
    x = np.c_[means, np.ones(len(means))]
    w, *_ = np.linalg.lstsq(x[fold == "train"], segments.labels[fold == "train", 0], rcond=None)
    assert np.corrcoef(x[fold == "test"] @ w, segments.labels[fold == "test", 0])[0, 1] > 0.7


def _broken(kind):
    data = multibench_data(sizes=(6, 3, 3))
    if kind == "missing_labels":
        del data["train"]["labels"]
    elif kind == "label_range":
        data["valid"]["labels"][2] = -4.0
    elif kind == "label_width":
        data["test"]["labels"] = np.zeros((3, 2), np.float32)
    elif kind == "empty_split":
        data["valid"] = {k: v[:0] for k, v in data["valid"].items()}
    elif kind == "all_text_zero":
        data["test"]["text"][:] = 0.0
    elif kind == "dims":
        data["test"]["audio"] = np.ones((3, 10, 9), np.float32)
    elif kind == "strings":
        data["train"]["vision"] = np.array([["a"]] * 6)
    return data


@pytest.mark.parametrize(
    "kind,pattern",
    [
        ("missing_labels", r"split 'train' lacks labels"),
        ("label_range", r"split 'valid' segment 'validvid2\$_\$2': sentiment label -4\.0 is not in \[-3, 3\]"),
        ("label_width", r"split 'test': labels shape \(3, 2\), expected one score per segment"),
        ("empty_split", r"split 'valid' has no segments"),
        ("all_text_zero", r"split 'test' has no segments left"),
        ("dims", r"audio feature sizes differ between splits \(\[6, 9\]\)"),
        ("strings", r"split 'train' vision: dtype <U1 is not numeric"),
    ],
)
def test_bad_input_is_one_line(tmp_path, kind, pattern):
    path = write_pickle(tmp_path / "mosi_raw.pkl", _broken(kind))
    with pytest.raises(MmerError, match=pattern) as info:
        _load(path)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(path))
