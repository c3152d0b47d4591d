"""MMSA pickles (aligned_50 / unaligned_50 layout) -> SegmentSet: lengths, padding side, labels, folds, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from corpus_files import mmsa_data, multibench_data, write_pickle
from mmer_tf.config import ExperimentConfig
from mmer_tf.data import cache
from mmer_tf.data.corpora import mmsa, multibench
from mmer_tf.errors import MmerError

CONFIG = ExperimentConfig()


def _load(path):
    return mmsa.load_segments(mmsa.describe(path, CONFIG), CONFIG, progress=False)


def _real_steps(block, side):
    """Oracle: the planted real steps of each segment (generator rows are never all zero)."""
    out = []
    for seg in block:
        real = np.flatnonzero(np.any(seg != 0, axis=1))
        out.append(seg[real.min():real.max() + 1] if real.size else seg[:0])
    return out


@pytest.mark.parametrize("side", ["end", "front"])
def test_aligned_file_shares_one_length_and_keeps_real_steps(tmp_path, side):
    data = mmsa_data(aligned=True, side=side, seed=1)
    path = write_pickle(tmp_path / "aligned_50.pkl", data)
    segments, summary = _load(path)
    assert segments.aligned and summary["aligned"]
    assert summary["padding"] == {m: side for m in ("text", "audio", "vision")}
    assert len(segments) == 150 and summary["splits"] == {"train": 90, "valid": 30, "test": 30}
    assert segments.info["fold"] == ["train"] * 90 + ["valid"] * 30 + ["test"] * 30
    assert segments.info["label_names"] == ["sentiment"] and segments.info["classes"] == []
    expected_ids = [str(i) for split in ("train", "valid", "test") for i in data[split]["id"]]
    assert segments.ids == expected_ids
    labels = np.concatenate([data[s]["regression_labels"] for s in ("train", "valid", "test")])
    np.testing.assert_array_equal(segments.labels[:, 0], labels)
    for m in ("text", "audio", "vision"):
        oracle = [x for s in ("train", "valid", "test") for x in _real_steps(data[s][m], side)]
        assert all(a.dtype == np.float32 for a in segments.features[m])
        for got, want in zip(segments.features[m], oracle):
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(segments.lengths("audio"), segments.lengths("text"))
    assert np.isneginf(np.concatenate(segments.features["audio"])).any()  # -inf left for the pipeline


@pytest.mark.parametrize("side", ["end", "front"])
def test_unaligned_file_uses_stored_lengths(tmp_path, side):
    data = mmsa_data(aligned=False, side=side, steps=(8, 20, 15), seed=2)
    path = write_pickle(tmp_path / "unaligned_50.pkl", data)
    segments, summary = _load(path)
    assert not segments.aligned and summary["padding"]["audio"] == side
    for m in ("audio", "vision"):
        want = np.concatenate([np.asarray(data[s][f"{m}_lengths"]) for s in ("train", "valid", "test")])
        np.testing.assert_array_equal(segments.lengths(m), want)
    first = data["train"]["audio"][0]
    length = data["train"]["audio_lengths"][0]
    np.testing.assert_array_equal(segments.features["audio"][0], first[:length] if side == "end" else first[20 - length:])
    assert segments.dims() == {"text": 12, "audio": 6, "vision": 5}


def test_float64_input_and_planted_signal(tmp_path):
    data = mmsa_data(sizes=(200, 40, 60), dtype=np.float64, seed=3)
    segments, _ = _load(write_pickle(tmp_path / "aligned_50.pkl", data))
    assert segments.features["text"][0].dtype == np.float32
    means = np.stack([x.mean(axis=0) for x in segments.features["text"]])
    fold = np.array(segments.info["fold"])
    train, test = fold == "train", fold == "test"
    x = np.c_[means, np.ones(len(means))]
    w, *_ = np.linalg.lstsq(x[train], segments.labels[train, 0], rcond=None)
    assert np.corrcoef(x[test] @ w, segments.labels[test, 0])[0, 1] > 0.7


def test_segments_round_trip_the_cache(tmp_path):
    segments, _ = _load(write_pickle(tmp_path / "aligned_50.pkl", mmsa_data(seed=4)))
    path = cache.save_segment_sets(tmp_path / "c.npz", {"all": segments}, "d" * 64)
    back = cache.load_segment_sets(path, "d" * 64)[0]["all"]
    assert back.ids == segments.ids and back.info["fold"] == segments.info["fold"] and back.aligned
    for m in segments.features:
        np.testing.assert_array_equal(np.concatenate(back.features[m]), np.concatenate(segments.features[m]))


def test_all_padding_segment_is_dropped_and_counted(tmp_path):
    data = mmsa_data(seed=5, inf_in_audio=False)
    for m in ("text", "audio", "vision"):
        data["valid"][m][3] = 0.0
    segments, summary = _load(write_pickle(tmp_path / "aligned_50.pkl", data))
    assert len(segments) == 149
    assert summary["dropped"] == {"segments that are all padding": 1}
    assert summary["dropped_examples"]["segments that are all padding"] == [str(data["valid"]["id"][3])]


def test_detect(tmp_path):
    aligned = write_pickle(tmp_path / "aligned_50.pkl", mmsa_data(sizes=(3, 2, 2)))
    renamed = write_pickle(tmp_path / "mosei_features.pkl", mmsa_data(sizes=(3, 2, 2)))
    other = write_pickle(tmp_path / "mosi_raw.pkl", multibench_data(sizes=(3, 2, 2)))
    assert mmsa.detect(aligned) and mmsa.detect(renamed) and not mmsa.detect(other)
    assert not multibench.detect(aligned) and not multibench.detect(renamed)
    assert not mmsa.detect(tmp_path) and not mmsa.detect(tmp_path / "missing.pkl")


def _broken(kind):
    data = mmsa_data(sizes=(6, 3, 3), aligned=kind not in ("no_lengths", "long_length"), steps=(5, 6, 7) if kind in ("no_lengths", "long_length") else (5, 5, 5))
    if kind == "missing_key":
        del data["valid"]["audio"]
    elif kind == "label_range":
        data["test"]["regression_labels"][1] = 3.5
    elif kind == "label_nan":
        data["train"]["regression_labels"][0] = np.nan
    elif kind == "empty_split":
        for key, value in list(data["test"].items()):
            data["test"][key] = value[:0]
    elif kind == "count_mismatch":
        data["train"]["vision"] = data["train"]["vision"][:-1]
    elif kind == "rank":
        data["train"]["audio"] = data["train"]["audio"][:, :, 0]
    elif kind == "no_split":
        del data["valid"]
    elif kind == "no_lengths":
        del data["train"]["vision_lengths"]
    elif kind == "long_length":
        data["valid"]["audio_lengths"][0] = 99
    elif kind == "not_dict":
        data = [data["train"]]
    return data


@pytest.mark.parametrize(
    "kind,pattern",
    [
        ("missing_key", r"split 'valid' lacks audio"),
        ("label_range", r"split 'test' segment 'vid3\$_\$1': sentiment label 3\.5 is not in \[-3, 3\]"),
        ("label_nan", r"split 'train' segment .*: sentiment label nan"),
        ("empty_split", r"split 'test' has no segments"),
        ("count_mismatch", r"split 'train': vision has 5 segments but regression_labels has 6"),
        ("rank", r"split 'train' audio: shape \(6, 5\), expected 3 dims"),
        ("no_split", r"no 'valid' split"),
        ("no_lengths", r"split 'train'.*'vision_lengths' is missing"),
        ("long_length", r"split 'valid' audio_lengths: length 99 of segment 0 is not an integer in \[0, 6\]"),
        ("not_dict", r"top level is list"),
    ],
)
def test_bad_input_is_one_line_naming_file_and_split(tmp_path, kind, pattern):
    name = "unaligned_50.pkl" if kind in ("no_lengths", "long_length") else "aligned_50.pkl"
    path = write_pickle(tmp_path / name, _broken(kind))
    with pytest.raises(MmerError, match=pattern) as info:
        _load(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))


def test_hostile_pickle_refused_through_the_adapter(tmp_path):
    import os

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    data = mmsa_data(sizes=(3, 2, 2))
    data["train"]["raw_text"] = Evil()
    path = tmp_path / "aligned_50.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(MmerError, match=r"aligned_50\.pkl: refused to unpickle: .*system"):
        _load(path)
    assert not marker.exists()


def test_describe_rejects_folder_and_empty_file(tmp_path):
    with pytest.raises(MmerError, match="one pickle file"):
        mmsa.describe(tmp_path, CONFIG)
    (tmp_path / "aligned_50.pkl").write_bytes(b"")
    with pytest.raises(MmerError, match="empty file"):
        mmsa.describe(tmp_path / "aligned_50.pkl", CONFIG)
    info = mmsa.describe(write_pickle(tmp_path / "aligned_50.pkl", mmsa_data(sizes=(3, 2, 2))), CONFIG)
    assert info.name == "mmsa" and info.has_own_split and info.label_names == ("sentiment",)
    assert info.files == (tmp_path / "aligned_50.pkl",)


def test_runner_converts_once_then_never_unpickles(tmp_path, monkeypatch):
    from mmer_tf.data import dataset, safe_pickle

    path = write_pickle(tmp_path / "aligned_50.pkl", mmsa_data(seed=6))
    config = ExperimentConfig(dataset_folder=str(path), pickle_folder=str(tmp_path / "cache"), label_type="sentiment")
    calls = []
    real_load = safe_pickle.load
    monkeypatch.setattr(safe_pickle, "load", lambda p: calls.append(p) or real_load(p))
    folds, info = dataset.load_folds(config, progress=False)
    assert info["corpus"] == "mmsa" and len(calls) == 1
    assert {k: len(v) for k, v in folds.items()} == {"train": 90, "valid": 30, "test": 30}
    # A different split/normalisation re-uses the converted corpus; the same one re-uses the folds.
    for changed in (config, config.replace(normalization="none")):
        _, again = dataset.load_folds(changed, progress=False)
        assert again["cache_hit"] or again["dataset_cache_hit"]
    assert len(calls) == 1


def test_runner_caches_nothing_on_bad_input(tmp_path):
    from mmer_tf.data import dataset

    path = write_pickle(tmp_path / "aligned_50.pkl", _broken("label_range"))
    config = ExperimentConfig(dataset_folder=str(path), pickle_folder=str(tmp_path / "cache"), label_type="sentiment")
    with pytest.raises(MmerError, match="not in \\[-3, 3\\]"):
        dataset.load_folds(config, progress=False)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_inf_or_nan_in_padded_steps_is_still_padding(tmp_path):
    data = mmsa_data(aligned=True, seed=7, inf_in_audio=False)
    text = data["train"]["text"]
    real = int(np.any(text[0] != 0, axis=1).sum())
    assert real < 10
    data["train"]["audio"][0, real:, 1] = -np.inf  # padded steps carrying -inf / NaN in one modality
    data["train"]["vision"][0, real:, 2] = np.nan
    segments, summary = _load(write_pickle(tmp_path / "aligned_50.pkl", data))
    assert summary["padding"]["audio"] == "end"
    assert segments.lengths("audio")[0] == segments.lengths("text")[0] == real
