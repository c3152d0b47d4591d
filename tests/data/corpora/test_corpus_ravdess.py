"""RAVDESS layout parsing and the speaker-independent fold protocol (no media decoded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import ravdess
from mmer_tf.data.folds import stratified_folds
from mmer_tf.errors import MmerError


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def _name(mod=1, channel=1, emo=3, inten=1, stmt=1, rep=1, actor=1, ext="mp4"):
    return f"{mod:02d}-{channel:02d}-{emo:02d}-{inten:02d}-{stmt:02d}-{rep:02d}-{actor:02d}.{ext}"


def test_parse_name_fields():
    fields = ravdess.parse_name("01-02-08-02-02-01-18")
    assert fields == {"modality": "audio-video", "vocal_channel": "song", "emotion": "surprised",
                      "intensity": "strong", "statement": "02", "repetition": "01", "actor": "18",
                      "speaker": "Actor_18"}
    assert ravdess.STATEMENTS[fields["statement"]] == "Dogs are sitting by the door"


@pytest.mark.parametrize("stem", ["01-01-03-01-01-01", "01-01-09-01-01-01-01", "04-01-03-01-01-01-01",
                                  "01-01-03-01-03-01-01", "1-01-03-01-01-01-01", "01-01-03-01-01-01-01x"])
def test_parse_name_rejects(stem):
    with pytest.raises(MmerError):
        ravdess.parse_name(stem)


def test_scan_prefers_audio_video_and_skips_odd_files(tmp_path):
    _touch(tmp_path / "Actor_01" / _name(mod=1))
    _touch(tmp_path / "Actor_01" / _name(mod=3, ext="wav"))  # same recording, audio-only copy
    _touch(tmp_path / "Actor_01" / _name(mod=2, emo=4))  # video-only: no speech
    _touch(tmp_path / "Actor_01" / "notes.mp4")
    _touch(tmp_path / "Actor_01" / _name(actor=2, emo=5))  # actor code differs from folder
    _touch(tmp_path / "Audio_Speech_Actors_01-24" / "Actor_03" / _name(mod=3, actor=3, ext="wav"))
    assert ravdess.detect(tmp_path)
    scan = ravdess.scan(tmp_path)
    assert [r.id for r in scan.records] == ["01-01-03-01-01-01-01", "03-01-03-01-01-01-03"]
    assert scan.records[0].text == "Kids are talking by the door"
    assert scan.records[0].meta["emotion"] == "happy"
    assert set(scan.skipped) == {"second copy of a recording", "video-only file (no speech)",
                                 "not a RAVDESS file name", "actor code differs from its Actor_XX folder"}


def _rows(actors, emotions=("happy", "sad"), channel="speech"):
    return [{"id": f"{a}-{e}", "actor": f"{a:02d}", "emotion": e, "vocal_channel": channel}
            for a in actors for e in emotions]


def test_full_protocol_blocks_of_four_actors():
    rows = _rows(range(1, 25))
    cfg = ExperimentConfig(fold=0)
    lab = ravdess.label(rows, cfg)
    assert lab.protocol["blocks"][0] == ["Actor_01", "Actor_02", "Actor_03", "Actor_04"]
    assert lab.protocol["blocks"][5] == ["Actor_21", "Actor_22", "Actor_23", "Actor_24"]
    assert lab.protocol["test"] == ["Actor_01", "Actor_02", "Actor_03", "Actor_04"]
    assert lab.protocol["valid"] == ["Actor_05", "Actor_06", "Actor_07", "Actor_08"]


@pytest.mark.parametrize("num_folds", [3, 4, 6, 8, 24])
def test_no_actor_in_two_folds_and_every_fold_tests_once(num_folds):
    rows = _rows(range(1, 25), emotions=ravdess.EMOTIONS)
    tested = []
    for k in range(num_folds):
        lab = ravdess.label(rows, ExperimentConfig(fold=k, num_folds=num_folds))
        by_fold = {}
        for row, fold in zip(rows, lab.fold):
            by_fold.setdefault(fold, set()).add(row["actor"])
        assert set(by_fold) == {"train", "valid", "test"}
        assert not by_fold["train"] & by_fold["test"]
        assert not by_fold["valid"] & by_fold["test"]
        assert not by_fold["train"] & by_fold["valid"]
        tested.extend(by_fold["test"])
    assert sorted(tested) == [f"{a:02d}" for a in range(1, 25)]  # each actor tested exactly once


def test_emotion_subset_and_vocal_channel():
    rows = _rows([1, 2, 3], emotions=("neutral", "happy", "sad")) + _rows([1, 2, 3], channel="song")
    lab = ravdess.label(rows, ExperimentConfig(emotions=("sad", "happy"), num_folds=3))
    assert lab.classes == ("happy", "sad")  # RAVDESS order, not flag order
    kept = [(r["emotion"], r["vocal_channel"], y) for r, y in zip(rows, lab.label) if y is not None]
    assert all(ch == "speech" for _, ch, _ in kept)
    assert {(e, y) for e, _, y in kept} == {("happy", 0), ("sad", 1)}
    assert lab.excluded.count("emotion not selected (--emotions)") == 3
    with pytest.raises(MmerError, match="--emotions"):
        ravdess.label(rows, ExperimentConfig(emotions=("joyful", "sad"), num_folds=3))
    with pytest.raises(MmerError, match="--num_folds 4"):
        ravdess.label(rows, ExperimentConfig(num_folds=4))
    with pytest.raises(MmerError, match="--fold 3"):
        ravdess.label(rows, ExperimentConfig(num_folds=3, fold=3))


def test_describe_errors_in_one_line(tmp_path):
    (tmp_path / "Actor_01").mkdir()
    _touch(tmp_path / "Actor_01" / "readme.txt")
    with pytest.raises(MmerError, match="no RAVDESS clips"):
        ravdess.describe(tmp_path, ExperimentConfig(pickle_folder=str(tmp_path / "pf")))


def test_group_folds_stratified_folds_properties():
    names, _ = stratified_folds([0] * 10 + [1] * 10, 5, 2, seed=3)
    assert names.count("test") == 4 and names.count("valid") == 4
    again, _ = stratified_folds([0] * 10 + [1] * 10, 5, 2, seed=3)
    assert names == again
    assert sum(1 for n, y in zip(names, [0] * 10 + [1] * 10) if n == "test" and y == 0) == 2


@pytest.mark.parametrize("changes,message", [
    ({"audio_recipe": "hub:https://tfhub.dev/google/yamnet"}, "--audio_recipe hub:https://tfhub.dev/google/yamnet: "
                                                              "not a model handle"),
    ({"video_recipe": "hub:/no/such/model"}, "--video_recipe hub:/no/such/model"),
    ({"num_folds": 3, "fold": 5}, "--fold 5"),
    ({"recipe_options": ("fps",)}, "--recipe_options 'fps': expected key=value"),
    ({"recipe_options": ("fps=fast",)}, "fps 'fast': not a number"),
])
def test_runner_errors_name_main_flags_before_any_work(tmp_path, changes, message):
    from mmer_tf.data import dataset

    for actor in (1, 2, 3):
        _touch(tmp_path / "RAVDESS" / f"Actor_{actor:02d}" / _name(actor=actor))
    config = ExperimentConfig(dataset_folder=str(tmp_path / "RAVDESS"), corpus="ravdess", label_type="category",
                              pickle_folder=str(tmp_path / "pf"), num_folds=3).replace(**changes)
    with pytest.raises(MmerError, match=message):
        dataset.load_folds(config, progress=False)
    assert not list((tmp_path / "pf").glob("*.npz"))  # nothing cached


def test_recipe_options_reach_the_recipe_and_the_featurized_key(tmp_path):
    for actor in (1, 2, 3):
        _touch(tmp_path / "RAVDESS" / f"Actor_{actor:02d}" / _name(actor=actor))
    base = ExperimentConfig(pickle_folder=str(tmp_path / "pf"), num_folds=3)
    plain = ravdess.describe(tmp_path / "RAVDESS", base)
    slow = ravdess.describe(tmp_path / "RAVDESS", base.replace(recipe_options=("fps=2", "face_crop=false")))
    assert slow.params["recipe"]["fps"] == 2.0 and slow.params["recipe"]["face_crop"] is False
    assert plain.params["featurized"] != slow.params["featurized"]  # another recipe, another featurized folder
    relabelled = ravdess.describe(tmp_path / "RAVDESS", base.replace(fold=1))
    assert relabelled.params["featurized"] == plain.params["featurized"]  # labels/folds never re-featurize
