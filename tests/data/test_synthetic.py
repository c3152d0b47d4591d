"""The built-in CMU-MOSEI-shaped sample: determinism, SDK shape, label statistics, defects, planted signal."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_score

from mmer_tf.data import synthetic
from mmer_tf.formats.csd import CsdReader
from mmer_tf.data.folds import standard_folds
from mmer_tf.data.synthetic import SEQUENCES, builtin_sample_folder, draw_labels, generate_sample
from mmer_tf.errors import MmerError


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    summary = generate_sample(folder, n_videos=80, seed=3, include_openface=False)
    return folder, summary


@pytest.fixture(scope="module")
def tiny_with_openface(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    summary = generate_sample(folder, n_videos=4, seed=1, segments_per_video=(1, 2), unlisted_videos=0)
    return folder, summary


def _h5_arrays(path: Path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    kwargs = dict(n_videos=6, segments_per_video=(2, 3), include_openface=False)
    a = generate_sample(tmp_path / "a", seed=5, **kwargs)
    b = generate_sample(tmp_path / "b", seed=5, **kwargs)
    c = generate_sample(tmp_path / "c", seed=6, **kwargs)
    assert a["video_ids"] == b["video_ids"]
    for name in a["files"].values():
        left, right = _h5_arrays(tmp_path / "a" / name), _h5_arrays(tmp_path / "b" / name)
        assert left.keys() == right.keys()
        for key in left:
            floats = left[key].dtype.kind == "f"
            assert np.array_equal(left[key], right[key], equal_nan=floats), (name, key)
    assert a["video_ids"] != c["video_ids"]
    first_c = _h5_arrays(tmp_path / "c" / SEQUENCES["labels"].filename)
    first_a = _h5_arrays(tmp_path / "a" / SEQUENCES["labels"].filename)
    features = lambda arrays: np.concatenate([v.ravel() for k, v in sorted(arrays.items()) if k.endswith("features")])
    assert not np.array_equal(features(first_a)[:20], features(first_c)[:20])


def test_files_have_sdk_names_dims_and_rates(tiny_with_openface):
    folder, summary = tiny_with_openface
    expected = {
        "CMU_MOSEI_TimestampedWordVectors.csd": ("glove_vectors", 300, None),
        "CMU_MOSEI_COVAREP.csd": ("COVAREP", 74, 100.0),
        "CMU_MOSEI_VisualFacet42.csd": ("FACET 4.2", 35, 30.0),
        "CMU_MOSEI_VisualOpenFace2.csd": ("OpenFace_2", 713, 30.0),
        "CMU_MOSEI_Labels.csd": ("All Labels", 7, None),
    }
    assert sorted(p.name for p in folder.glob("*.csd")) == sorted(expected)
    with CsdReader(folder / "CMU_MOSEI_Labels.csd") as labels:
        label_videos = labels.video_ids()
        segments = {vid: labels.read(vid) for vid in label_videos}
    for filename, (root, dim, rate) in expected.items():
        with CsdReader(folder / filename) as reader:
            assert reader.name == root
            assert reader.dim == dim
            for vid, intervals, features in reader.items():
                assert features.shape == (len(intervals), dim)
                assert np.all(intervals[:, 1] >= intervals[:, 0])
                if rate:
                    assert np.allclose(np.diff(intervals[:, 0]), 1.0 / rate)
                    # the frames cover every labelled segment of the video
                    assert intervals[-1, 1] >= segments[vid][0][-1, 1] - 1.0 / rate
    assert summary["n_segments"] == sum(len(iv) for iv, _ in segments.values())
    assert all(1 <= len(iv) <= 2 for iv, _ in segments.values())  # segments_per_video=(1, 2)


def test_video_ids_are_standard_fold_ids_in_proportion(sample):
    _, summary = sample
    folds = standard_folds("mosei")
    for name, ids in summary["video_ids"].items():
        assert set(ids) <= set(folds[name])
    counts = {name: len(ids) for name, ids in summary["video_ids"].items()}
    assert sum(counts.values()) == 80
    assert counts == {"train": 56, "valid": 7, "test": 17}  # 80 * (2249, 300, 678) / 3227, rounded
    all_standard = set().union(*map(set, folds.values()))
    assert summary["unlisted_video_ids"] and not set(summary["unlisted_video_ids"]) & all_standard


def test_label_values_are_thirds_in_range():
    labels = draw_labels(np.random.default_rng(0), 5000)
    assert labels.shape == (5000, 7) and labels.dtype == np.float32
    thirds = labels * 3.0
    assert np.allclose(thirds, np.round(thirds), atol=1e-5)
    assert labels[:, 1:].min() == 0.0 and labels[:, 1:].max() <= 3.0
    assert labels[:, 0].min() >= -3.0 and labels[:, 0].max() <= 3.0
    assert set(np.round(thirds[:, 1:]).astype(int).ravel()) <= set(range(10))


def test_label_frequencies_are_mosei_like():
    labels = draw_labels(np.random.default_rng(1), 40000)
    presence = (labels[:, 1:] > 0).mean(axis=0)
    # happy, sad, anger, surprise, disgust, fear
    assert np.allclose(presence, [0.50, 0.25, 0.20, 0.09, 0.17, 0.08], atol=0.015)
    assert presence[0] == presence.max() and presence[[3, 5]].max() < presence[[1, 2, 4]].min()
    all_zero = np.all(labels[:, 1:] == 0, axis=1).mean()
    assert 0.22 < all_zero < 0.38
    # low intensities dominate among present scores, as in MOSEI
    present_scores = labels[:, 1:][labels[:, 1:] > 0]
    assert np.mean(present_scores <= 1.0) > 0.7
    # sentiment follows the emotions: happy-only segments are more positive than sad-only ones
    happy_only = (labels[:, 1] > 0) & np.all(labels[:, 2:] == 0, axis=1)
    sad_only = (labels[:, 2] > 0) & (labels[:, 1] == 0) & np.all(labels[:, 3:] == 0, axis=1)
    assert labels[happy_only, 0].mean() > labels[sad_only, 0].mean() + 0.5


def test_real_file_defects_are_present(sample):
    folder, summary = sample
    missing = summary["missing"]["COVAREP"]
    assert len(missing) == 1
    with CsdReader(folder / "CMU_MOSEI_COVAREP.csd") as audio, CsdReader(folder / "CMU_MOSEI_Labels.csd") as labels:
        assert missing[0] in labels and missing[0] not in audio
        assert all(v in audio for v in labels.video_ids() if v != missing[0])
        nan_rows = neg_inf = 0
        for _, _, features in audio.items():
            nan_rows += int(np.all(np.isnan(features), axis=1).sum())
            neg_inf += int(np.isneginf(features).sum())
    assert nan_rows == summary["defects"]["covarep_nan_rows"] > 0
    assert neg_inf == summary["defects"]["covarep_neg_inf_values"] > 0
    zero_length = zero_vectors = 0
    with CsdReader(folder / "CMU_MOSEI_TimestampedWordVectors.csd") as words:
        for _, intervals, features in words.items():
            zero_length += int(np.sum(intervals[:, 0] == intervals[:, 1]))
            zero_vectors += int(np.sum(~features.any(axis=1)))
    assert zero_length == summary["defects"]["zero_length_words"] > 0
    assert zero_vectors == summary["defects"]["oov_zero_words"] > 0


def _segment_means(folder: Path):
    """Per labelled segment, the mean of each modality's steps whose midpoint lies inside it."""
    names = {"text": "CMU_MOSEI_TimestampedWordVectors.csd", "audio": "CMU_MOSEI_COVAREP.csd",
             "vision": "CMU_MOSEI_VisualFacet42.csd"}
    readers = {m: CsdReader(folder / f) for m, f in names.items()}
    means = {m: [] for m in names}
    targets = []
    with CsdReader(folder / "CMU_MOSEI_Labels.csd") as labels:
        for vid in labels.video_ids():
            if not all(vid in r for r in readers.values()):
                continue
            bounds, y = labels.read(vid)
            for m, reader in readers.items():
                intervals, features = reader.read(vid)
                features = np.nan_to_num(features.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
                mid = intervals.mean(axis=1)
                inside = (mid[None, :] >= bounds[:, :1]) & (mid[None, :] < bounds[:, 1:])
                means[m].append(inside @ features / np.maximum(inside.sum(axis=1, keepdims=True), 1))
            targets.append(y)
    for r in readers.values():
        r.close()
    return {m: np.concatenate(v) for m, v in means.items()}, np.concatenate(targets)


@pytest.mark.slow
def test_planted_signal_each_modality_beats_chance_and_fusion_beats_each(sample):
    folder, _ = sample
    means, targets = _segment_means(folder)
    cv = KFold(5, shuffle=True, random_state=0)

    def r2(x):
        model = RidgeCV(alphas=np.logspace(-2, 4, 13))
        return cross_val_score(model, x, targets, cv=cv, scoring="r2").mean()

    single = {m: r2(x) for m, x in means.items()}
    fused = r2(np.hstack([means["text"], means["vision"], means["audio"]]))
    assert min(single.values()) > 0.08, single  # chance level is R^2 <= 0
    assert fused > max(single.values()) + 0.08, (fused, single)


def test_bad_sizes_are_user_errors(tmp_path):
    with pytest.raises(MmerError, match="n_videos"):
        generate_sample(tmp_path, n_videos=5000)
    with pytest.raises(MmerError, match="segments_per_video"):
        generate_sample(tmp_path, n_videos=5, segments_per_video=(3, 2))


def test_builtin_sample_folder_generates_once_and_reuses(tmp_path, monkeypatch):
    calls = []
    real = synthetic.generate_sample

    def counting(folder, **kwargs):
        calls.append(kwargs)
        return real(folder, **{**kwargs, "segments_per_video": (1, 2), "include_openface": False})

    monkeypatch.setattr(synthetic, "generate_sample", counting)
    first = builtin_sample_folder(tmp_path, n_videos=5, seed=2)
    second = builtin_sample_folder(tmp_path, n_videos=5, seed=2)
    assert first == second == tmp_path / "builtin_sample_5_2"
    assert len(calls) == 1
    assert (first / "CMU_MOSEI_Labels.csd").is_file()
    # no temporary folders are left behind
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["builtin_sample_5_2"]
    # a folder from another generator version (or a damaged one) is regenerated
    (first / "CMU_MOSEI_Labels.csd").unlink()
    assert builtin_sample_folder(tmp_path, n_videos=5, seed=2) == first
    assert len(calls) == 2 and (first / "CMU_MOSEI_Labels.csd").is_file()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "summary"])
def test_a_damaged_builtin_sample_is_detected_and_regenerated(tmp_path, monkeypatch, caplog, damage):
    calls = []
    real = synthetic.generate_sample

    def small(folder, **kwargs):
        calls.append(kwargs)
        return real(folder, **{**kwargs, "segments_per_video": (1, 2), "include_openface": False})

    monkeypatch.setattr(synthetic, "generate_sample", small)
    folder = builtin_sample_folder(tmp_path, n_videos=4, seed=2)
    covarep = folder / "CMU_MOSEI_COVAREP.csd"
    good = covarep.read_bytes()
    if damage == "truncate":  # a copy cut short (disk full while copying)
        covarep.write_bytes(good[: len(good) // 2])
    elif damage == "garbage":  # same size, not HDF5 any more
        covarep.write_bytes(b"\0" * len(good))
    else:
        (folder / "sample.json").write_text("{", encoding="utf-8")
    with caplog.at_level("WARNING"):
        assert builtin_sample_folder(tmp_path, n_videos=4, seed=2) == folder
    assert len(calls) == 2 and covarep.read_bytes() == good  # regenerated, byte-identical
    assert "unusable" in caplog.text
    assert builtin_sample_folder(tmp_path, n_videos=4, seed=2) == folder and len(calls) == 2  # and reused


def test_stale_hidden_generation_folders_are_removed(tmp_path, monkeypatch):
    real = synthetic.generate_sample
    monkeypatch.setattr(synthetic, "generate_sample", lambda folder, **kw: real(
        folder, **{**kw, "segments_per_video": (1, 2), "include_openface": False}))
    stale = tmp_path / ".builtin_sample_4_2.abc123"
    stale.mkdir()
    (stale / "CMU_MOSEI_COVAREP.csd").write_bytes(b"\0" * 4096)  # what a killed generation leaves
    builtin_sample_folder(tmp_path, n_videos=4, seed=2)
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
