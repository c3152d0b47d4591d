"""Standard CMU-MOSEI/MOSI folds, the Williams et al. custom split, and split_folds."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mmer_tf.data.folds import custom_split_folds, fold_video_ids, split_folds, standard_folds
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError

SDK_MIRROR = Path("/work/.mirror/CMU-MultiComp-Lab+CMU-MultimodalSDK/repo")


def test_standard_fold_sizes_and_known_ids():
    mosei, mosi = standard_folds("mosei"), standard_folds("mosi")
    assert {k: len(v) for k, v in mosei.items()} == {"train": 2249, "valid": 300, "test": 678}
    assert {k: len(v) for k, v in mosi.items()} == {"train": 52, "valid": 10, "test": 31}
    assert mosei["train"][:3] == ["hh04W3xXa5s", "GdFP_p4eQX0", "4iG0ffmnCOw"]
    assert mosei["valid"][0] == "188343" and mosei["test"][0] == "7l3BNtSE0xc"
    assert mosi["train"][0] == "2iD-tVS8NPw" and mosi["test"][0] == "tmZoasNr4rU"
    for folds in (mosei, mosi):
        sets = [set(v) for v in folds.values()]
        assert sum(map(len, sets)) == sum(map(len, folds.values()))  # no duplicates
        assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])


@pytest.mark.skipif(not SDK_MIRROR.is_dir(), reason="CMU Multimodal SDK mirror not available")
@pytest.mark.parametrize("corpus,name", [("mosei", "CMU_MOSEI/cmu_mosei_std_folds.py"), ("mosi", "CMU_MOSI/cmu_mosi_std_folds.py")])
def test_fold_lists_equal_the_sdk_source(corpus, name):
    source = subprocess.run(
        ["git", "-C", str(SDK_MIRROR), "show", f"HEAD:mmsdk/mmdatasdk/dataset/standard_datasets/{name}"],
        capture_output=True, text=True, check=True,
    ).stdout
    sdk = {node.targets[0].id.split("_")[1]: ast.literal_eval(node.value) for node in ast.parse(source).body}
    assert standard_folds(corpus) == sdk


def test_original_custom_split_is_the_original_suites_exactly():
    """helenetran3/MER-experiments src/dataset_utils.py perform_custom_split, on CMU-MOSEI's lists:
    half = 150, five = int(0.05 * 2249) = 112, left = 2137, ten = int(213.7) = 213."""
    standard = standard_folds("mosei")
    T, V, S = standard["train"], standard["valid"], standard["test"]
    custom = custom_split_folds("mosei", "original")
    assert custom == fold_video_ids("mosei", custom_split=True) == fold_video_ids("mosei", "original")
    assert {k: len(v) for k, v in custom.items()} == {"train": 1924, "valid": 363, "test": 939}
    assert custom["train"] == T[:1924]
    assert custom["valid"] == V[:150] + T[1924 - 213:1924]  # the last 213 of the NEW train list: the bug
    assert custom["test"] == V[151:] + T[-112:] + S  # the middle valid video V[150] is skipped
    overlap = set(custom["train"]) & set(custom["valid"])
    assert len(overlap) == 213
    listed = set(custom["train"]) | set(custom["valid"]) | set(custom["test"])
    assert set(T[1924:2137]) | {V[150]} == (set(T) | set(V) | set(S)) - listed  # in no fold: dropped


def test_original_custom_split_gives_overlapping_videos_to_train_first():
    custom = custom_split_folds("mosei", "original")
    both = sorted(set(custom["train"]) & set(custom["valid"]))[:2]
    only_valid = custom["valid"][0]
    ids = [f"{both[0]}[0]", f"{only_valid}[0]", f"{both[1]}[3]", f"{standard_folds('mosei')['test'][5]}[0]"]
    result = split_folds(_segments(ids), custom_split=True)
    assert result["train"].ids == [ids[0], ids[2]]  # the original's `if vid in train_ids ... elif` order
    assert result["valid"].ids == [ids[1]] and result["test"].ids == [ids[3]]  # the standard test fold is test
    assert result["train"].info["split"]["overlapping_videos"] == 213
    assert result["train"].info["split"]["custom_split"] == "original"


def test_corrected_custom_split_puts_every_video_in_one_fold():
    standard = standard_folds("mosei")
    T, V, S = standard["train"], standard["valid"], standard["test"]
    custom = custom_split_folds("mosei", "corrected")
    assert {k: len(v) for k, v in custom.items()} == {"train": 1924, "valid": 363, "test": 940}
    assert custom["valid"] == V[:150] + T[1924:2137]
    assert custom["test"] == V[150:] + T[-112:] + S
    every = custom["train"] + custom["valid"] + custom["test"]
    assert len(every) == len(set(every)) == len(T) + len(V) + len(S)
    result = split_folds(_segments([f"{T[2000]}[0]"]), custom_split="corrected")
    assert result["valid"].ids == [f"{T[2000]}[0]"] and result["train"].info["split"]["overlapping_videos"] == 0
    with pytest.raises(MmerError, match="--custom_split"):
        custom_split_folds("mosei", "fixed")


def test_original_custom_split_keeps_pythons_empty_slice_for_tiny_lists():
    """CMU-MOSI: five = int(0.05 * 52) = 2, ten = int(0.1 * 50) = 5; the rules are the same code path."""
    standard, custom = standard_folds("mosi"), custom_split_folds("mosi", "original")
    assert custom["train"] == standard["train"][:45]
    assert custom["test"][-31:] == standard["test"]
    from mmer_tf.data.folds import _last, _without_last

    assert _without_last(["a", "b"], 0) == [] and _last(["a", "b"], 0) == ["a", "b"]  # x[:-0], x[-0:]


def test_unknown_corpus_is_a_user_error():
    with pytest.raises(MmerError, match="meld"):
        standard_folds("meld")


def _segments(ids):
    n = len(ids)
    rng = np.random.default_rng(0)
    return SegmentSet(
        ids=ids,
        features={"text": [rng.normal(size=(2, 3)).astype(np.float32) for _ in ids]},
        labels=np.arange(n * 7, dtype=np.float32).reshape(n, 7),
    )


@pytest.mark.parametrize("custom", [False, True])
def test_split_folds_by_video_and_drops_unlisted(custom, caplog):
    folds = fold_video_ids("mosei", custom)
    train, valid, test = folds["train"][0], folds["valid"][0], folds["test"][0]
    ids = [f"{train}[0]", "nowhere[0]", f"{test}[1]", f"{valid}[0]", f"{train}[1]", "nowhere[1]", "other[0]"]
    segments = _segments(ids)
    result = split_folds(segments, corpus="mosei", custom_split=custom)
    assert result["train"].ids == [f"{train}[0]", f"{train}[1]"]
    assert result["valid"].ids == [f"{valid}[0]"]
    assert result["test"].ids == [f"{test}[1]"]
    # rows travel with their ids
    assert np.array_equal(result["train"].labels, segments.labels[[0, 4]])
    assert result["test"].features["text"][0] is segments.features["text"][2]
    report = result["train"].info["split"]
    assert report["dropped_segments"] == 3 and report["dropped_videos"] == 2
    assert report["dropped_video_ids"] == ["nowhere", "other"]
    assert report["videos"] == {"train": 1, "valid": 1, "test": 1}
    assert "dropped" in caplog.text


def test_a_fold_without_segments_is_an_empty_set():
    result = split_folds(_segments([f"{standard_folds('mosei')['train'][0]}[0]"]))
    assert len(result["train"]) == 1 and len(result["valid"]) == len(result["test"]) == 0
