"""load_folds(config) end to end: built-in sample, corpus detection, both cache levels, selection."""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from mmer_tf.config import ExperimentConfig
from mmer_tf.data import corpora
from mmer_tf.data.dataset import detect_corpus, load_folds
from mmer_tf.data.folds import custom_split_folds, standard_folds
from mmer_tf.data.synthetic import generate_sample
from mmer_tf.errors import MmerError


def _config(tmp_path, **changes):
    return ExperimentConfig(**{"pickle_folder": str(tmp_path / "pickles"), "sample_videos": 12, **changes})


def _same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].ids == b[name].ids
        assert np.array_equal(a[name].labels, b[name].labels)
        for m in a[name].features:
            assert all(np.array_equal(x, y) for x, y in zip(a[name].features[m], b[name].features[m]))


def test_builtin_sample_miss_then_hit(tmp_path, caplog):
    config = _config(tmp_path)
    with caplog.at_level(logging.WARNING):
        folds, info = load_folds(config, progress=False)
    assert "BUILT-IN SYNTHETIC" in caplog.text
    assert info["dataset"] == "builtin-sample" and info["builtin_sample"] and info["corpus"] == "mosei"
    assert info["cache_hit"] is False and info["dataset_cache_hit"] is False
    assert info["dims"] == {"text": 300, "audio": 74, "vision": 35}
    assert info["counts"] == {name: len(folds[name]) for name in ("train", "valid", "test")}
    assert min(info["counts"].values()) > 0
    assert info["split"]["dropped_videos"] == 2  # the sample's two unlisted videos
    assert os.path.exists(info["cache_path"]) and os.path.exists(info["dataset_cache_path"])
    standard = standard_folds("mosei")
    for name, fold in folds.items():
        assert set(fold.video_ids()) <= set(standard[name])
        assert fold.labels.shape == (len(fold), 7)
        assert fold.aligned
        for m in fold.modalities:
            assert all(np.isfinite(x).all() and x.dtype == np.float32 for x in fold.features[m])
            assert (fold.lengths(m) == fold.lengths("text")).all()  # word-aligned view
    # train statistics: the training audio steps are standardised, constant features aside
    train_audio = np.concatenate(folds["train"].features["audio"])
    assert np.allclose(train_audio.mean(axis=0), 0.0, atol=1e-3)
    assert np.all((np.abs(train_audio.std(axis=0) - 1.0) < 1e-3) | (train_audio.std(axis=0) < 1e-6))

    again, info2 = load_folds(config, progress=False)
    assert info2["cache_hit"] is True and info2["cache_path"] == info["cache_path"]
    assert info2["split"] == info["split"] and info2["load_summary"] == info["load_summary"]
    _same(folds, again)


def test_modalities_are_selected_from_one_cache(tmp_path):
    load_folds(_config(tmp_path), progress=False)
    folds, info = load_folds(_config(tmp_path, modalities=("text", "vision")), progress=False)
    assert info["cache_hit"] is True
    assert info["modalities"] == ["text", "vision"] and set(folds["test"].features) == {"text", "vision"}
    with pytest.raises(MmerError, match="modalities"):
        load_folds(_config(tmp_path, modalities=("smell",)), progress=False)


def test_parameters_and_files_invalidate_the_right_cache_level(tmp_path):
    _, first = load_folds(_config(tmp_path), progress=False)
    segment_folds, second = load_folds(_config(tmp_path, normalization="segment"), progress=False)
    assert second["cache_hit"] is False and second["dataset_cache_hit"] is True
    assert second["cache_path"] != first["cache_path"]
    # per-segment z-score: every audio segment is centred on its own mean
    assert all(np.allclose(x.mean(axis=0), 0.0, atol=1e-4) for x in segment_folds["train"].features["audio"])
    _, third = load_folds(_config(tmp_path, image_feature="openface"), progress=False)
    assert third["dataset_cache_hit"] is False and third["dims"]["vision"] == 713
    labels = os.path.join(first["folder"], "CMU_MOSEI_Labels.csd")
    stat = os.stat(labels)
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000))
    _, fourth = load_folds(_config(tmp_path), progress=False)
    assert fourth["cache_hit"] is False and fourth["dataset_cache_hit"] is False
    assert fourth["cache_path"] != first["cache_path"]


def test_a_truncated_fold_cache_is_rebuilt(tmp_path, caplog):
    folds, info = load_folds(_config(tmp_path), progress=False)
    with open(info["cache_path"], "r+b") as handle:
        handle.truncate(1000)
    with caplog.at_level(logging.WARNING):
        rebuilt, info2 = load_folds(_config(tmp_path), progress=False)
    assert "unusable" in caplog.text
    assert info2["cache_hit"] is False and info2["dataset_cache_hit"] is True
    _same(folds, rebuilt)
    assert load_folds(_config(tmp_path), progress=False)[1]["cache_hit"] is True


def test_custom_split_folds_come_from_train_and_valid_videos(tmp_path):
    folds, info = load_folds(_config(tmp_path, with_custom_split=True, sample_videos=40), progress=False)
    assert min(info["counts"].values()) > 0
    custom = custom_split_folds("mosei")
    for name, fold in folds.items():
        assert set(fold.video_ids()) <= set(custom[name])
    assert info["split"]["custom_split"] == "original"  # -c is the original suite's split (data/folds.py)
    assert set(standard_folds("mosei")["test"]) <= set(custom["test"])  # its test set keeps the standard one


def test_explicit_folder_and_corpus_detection(tmp_path):
    folder = tmp_path / "corpus"
    generate_sample(folder, n_videos=6, seed=4, include_openface=False, segments_per_video=(2, 3))
    folds, info = load_folds(_config(tmp_path, dataset_folder=str(folder)), progress=False)
    assert info["dataset"] == str(folder) and not info["builtin_sample"]
    assert sum(info["counts"].values()) > 0
    # renamed files: detected by the label sequence's root name
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for path in folder.glob("*.csd"):
        shutil.copy(path, renamed / path.name.replace("CMU_MOSEI_", "my_"))
    assert detect_corpus(renamed) == "mosei"
    _adapter, corpus = corpora.describe(renamed, _config(tmp_path))
    assert corpus.name == "mosei" and len(corpus.files) == 4 and not corpus.has_own_split


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: p / "absent", "no such file or folder"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "not a corpus layout this suite reads"),
    ],
)
def test_bad_dataset_folder_is_a_user_error(tmp_path, make, match):
    with pytest.raises(MmerError, match=match):
        load_folds(_config(tmp_path, dataset_folder=str(make(tmp_path))), progress=False)
    with pytest.raises(MmerError, match="normalization"):
        load_folds(_config(tmp_path, normalization="max"), progress=False)


@pytest.mark.slow
def test_the_planted_signal_survives_alignment_and_fusion_helps(tmp_path):
    folds, _ = load_folds(_config(tmp_path, sample_videos=80), progress=False)

    def means(fold, modalities):
        return np.hstack([np.stack([x.mean(axis=0) for x in fold.features[m]]) for m in modalities])

    def test_r2(modalities):
        model = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(means(folds["train"], modalities), folds["train"].labels)
        held_out = [folds["valid"], folds["test"]]
        x = np.vstack([means(f, modalities) for f in held_out])
        y = np.vstack([f.labels for f in held_out])
        return model.score(x, y)

    single = {m: test_r2([m]) for m in ("text", "audio", "vision")}
    fused = test_r2(["text", "vision", "audio"])
    assert min(single.values()) > 0.05, single
    assert fused > max(single.values()) + 0.05, (fused, single)


class _OneActorAdapter:
    """An adapter whose own split leaves the validation fold empty, as when every clip of the validation
    actor was dropped while loading (audio-only clips, for a corpus that needs the video)."""

    NAME = "one_actor"

    def load_segments(self, corpus, config, progress):
        from mmer_tf.data.segments import SegmentSet

        rng = np.random.default_rng(0)
        folds = ["train"] * 8 + ["test"] * 4
        segments = SegmentSet(ids=[f"c{i}" for i in range(12)],
                              features={"audio": [rng.normal(size=(3, 4)).astype(np.float32) for _ in folds]},
                              labels=(np.arange(12, dtype=np.float32) % 2)[:, None], info={"fold": folds})
        return segments, {}


def test_an_empty_fold_is_one_line_naming_it(tmp_path):
    """A split whose validation fold is empty is the user's to change (other folds), not a shape error in the
    normalisation downstream."""
    from mmer_tf.data.corpora.base import CorpusInfo

    corpus = CorpusInfo(name="one_actor", path=tmp_path, files=(), label_names=("category",), classes=("a", "b"))
    config = _config(tmp_path, modalities=("audio",))
    with pytest.raises(MmerError, match=r"the valid fold has no segments \(train/valid/test = 8/0/4\)"):
        load_folds(config, progress=False, opened=(_OneActorAdapter(), corpus, "one_actor"))
