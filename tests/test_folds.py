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


def test_custom_split_is_williams_resplit_of_train_and_valid():
    standard = standard_folds("mosei")
    custom = custom_split_folds("mosei")
    assert custom == custom_split_folds("mosei") == fold_video_ids("mosei", custom_split=True)
    # valid: first half of valid (150) + last 10 % of the train left after moving 5 % (213)
    # test: second half of valid (150) + last 5 % of train (112); train: the rest (1924)
    assert {k: len(v) for k, v in custom.items()} == {"train": 1924, "valid": 363, "test": 262}
    assert custom["valid"][:150] == standard["valid"][:150]
    assert custom["test"][:150] == standard["valid"][150:]
    assert custom["test"][150:] == standard["train"][-112:]
    assert custom["valid"][150:] == standard["train"][1924:2137]
    assert custom["train"] == standard["train"][:1924]
    every = custom["train"] + custom["valid"] + custom["test"]
    assert len(every) == len(set(every))
    assert set(every) == set(standard["train"]) | set(standard["valid"])
    assert not set(every) & set(standard["test"])


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
    train, valid, test = folds["train"][0], folds["valid"][-1], folds["test"][0]
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


def test_standard_test_videos_are_dropped_by_custom_split():
    standard, custom = standard_folds("mosei"), custom_split_folds("mosei")
    ids = [f"{standard['test'][0]}[0]", f"{custom['train'][0]}[0]", f"{custom['valid'][0]}[0]", f"{custom['test'][0]}[0]"]
    result = split_folds(_segments(ids), custom_split=True)
    assert [f.ids for f in result.values()] == [[ids[1]], [ids[2]], [ids[3]]]
    assert result["train"].info["split"]["dropped_segments"] == 1


def test_a_fold_without_segments_is_an_empty_set():
    result = split_folds(_segments([f"{standard_folds('mosei')['train'][0]}[0]"]))
    assert len(result["train"]) == 1 and len(result["valid"]) == len(result["test"]) == 0
