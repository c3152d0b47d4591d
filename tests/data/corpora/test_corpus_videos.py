"""A user's folder of clips + ``labels.csv``: parsing and splits, then ``python -m mmer_tf featurize`` and
``main.py`` on the featurized folder (a corrupt clip is skipped, named and counted, never fatal)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import media, videos
from mmer_tf.errors import MmerError
from raw_media_support import have_tools, write_clip

REPO = Path(__file__).resolve().parents[3]


def _folder(tmp_path, header, lines, files=()):
    root = tmp_path / "clips"
    root.mkdir(parents=True, exist_ok=True)
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    (root / "labels.csv").write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return root


def _rows(root):
    return [media.record_row(r) for r in videos.scan(root).records]


def test_split_column_aliases_and_missing_files(tmp_path):
    root = _folder(tmp_path, "file,label,split,text",
                   ["a/x.mp4,happy,train,\"hi, there\"", "b.mp4,sad,val,", "c.wav,sad,TEST,bye", "gone.mp4,sad,dev,"],
                   ["a/x.mp4", "b.mp4", "c.wav"])
    assert videos.detect(root)
    scan = videos.scan(root)
    assert [r.id for r in scan.records] == ["a__x", "b", "c"]
    assert scan.records[0].text == "hi, there" and scan.records[1].text is None
    assert scan.skipped == {"listed file not found": ["gone.mp4"]}
    lab = videos.label(_rows(root), ExperimentConfig())
    assert lab.classes == ("happy", "sad") and lab.fold == ["train", "valid", "test"] and lab.label == [0, 1, 1]


def test_speaker_folds_and_stratified_fallback(tmp_path):
    lines = [f"{s}_{i}.mp4,{'happy' if i % 2 else 'sad'},{s}" for s in ("ann", "bob", "cid", "dan") for i in range(4)]
    root = _folder(tmp_path, "file,label,speaker", lines, [line.split(",")[0] for line in lines])
    rows = _rows(root)
    lab = videos.label(rows, ExperimentConfig(num_folds=4, fold=1))
    speakers = {f: {r["speaker"] for r, g in zip(rows, lab.fold) if g == f} for f in ("train", "valid", "test")}
    assert speakers == {"test": {"bob"}, "valid": {"cid"}, "train": {"ann", "dan"}}
    plain = _folder(tmp_path / "p", "file,label", [line.rsplit(",", 1)[0] for line in lines],
                    [line.split(",")[0] for line in lines])
    lab = videos.label(_rows(plain), ExperimentConfig(num_folds=4, fold=0, seed=5))
    assert lab.fold.count("test") == 4 and sum(1 for f, y in zip(lab.fold, lab.label) if f == "test" and y) == 2


@pytest.mark.parametrize("header,line,message", [
    ("file,label", "a.mp4,", "empty label"),
    ("file,label,split", "a.mp4,happy,holdout", "split 'holdout'"),
    ("name,label", "a.mp4,happy", None),  # not this layout at all
])
def test_bad_labels_csv(tmp_path, header, line, message):
    root = _folder(tmp_path, header, [line], ["a.mp4"])
    if message is None:
        assert not videos.detect(root)
        with pytest.raises(MmerError, match="missing column"):
            videos.scan(root)
        return
    with pytest.raises(MmerError, match=message):
        videos.scan(root)


def test_feature_folder_labels_are_not_mistaken_for_videos(tmp_path):
    root = _folder(tmp_path, "id,split,label", ["s1,train,happy"])
    assert not videos.detect(root)


@pytest.mark.slow
@pytest.mark.skipif(not have_tools(), reason="espeak-ng is not installed")
def test_featurize_cli_then_train_on_the_featurized_folder(tmp_path):
    root = tmp_path / "mine"
    lines = ["file,label,speaker,text"]
    for speaker in range(4):
        for emotion in ("happy", "sad"):
            for take in range(2):
                name = f"s{speaker}/{emotion}_{take}.mp4"
                write_clip(root / name, "We were on a break", emotion, speaker + 1)
                lines.append(f"{name},{emotion},spk{speaker},We were on a break")
    (root / "s0" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    lines.append("s0/broken.mp4,sad,spk0,We were on a break")
    (root / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = tmp_path / "feats"
    result = subprocess.run([sys.executable, "-m", "mmer_tf", "featurize", "--corpus", "videos", str(root), str(out),
                             "--quiet"], cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "skipped (unreadable): s0__broken" in result.stderr
    assert "16 of 17 clips featurized" in result.stdout
    assert {p.name for p in out.iterdir()} >= {"text.csd", "audio.csd", "vision.csd", "recipe.json", "clips.csv",
                                                "featurized.json"}
    bad = subprocess.run([sys.executable, "-m", "mmer_tf", "featurize", "--corpus", "videos", str(root), str(out),
                          "--audio", "opensmile:eGeMAPSv02", "--quiet"], cwd=REPO, capture_output=True, text=True,
                         timeout=300, env=env)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: OUT") and len(bad.stderr.strip().splitlines()) == 1

    command = [sys.executable, "main.py", "-df", str(out), "-lt", "category", "-mn", "lf_dnn", "-e", "6", "-b", "4",
               "--num_folds", "4", "--fold", "0", "--seed", "3", "--verbose", "0",
               "-pf", str(tmp_path / "cache"), "-mf", str(tmp_path / "models")]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    row = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "classification_category.csv").iloc[0]
    assert row["acc"] >= 0.75, row.to_dict()  # 3 test clips of an unseen speaker (its 4th is the broken one)
    manifest = next((tmp_path / "cache").glob("cmu_mosei_*.json"), None) or next((tmp_path / "cache").glob("*.json"))
    summary = json.loads(manifest.read_text())["extra"]["load_summary"]
    assert summary["segments"] == 16 and summary["dropped"] == {"unreadable media": 1}
    assert summary["dropped_examples"]["unreadable media"][0].startswith("s0__broken (")

    # One command from the raw clips: main.py detects the layout, featurizes implicitly and trains.
    direct = [sys.executable, "main.py", "-df", str(root), "-lt", "category", "-mn", "lf_dnn", "-e", "6", "-b", "4",
              "--num_folds", "4", "--fold", "0", "--seed", "3", "--verbose", "0",
              "-pf", str(tmp_path / "cache2"), "-mf", str(tmp_path / "models2")]
    result = subprocess.run(direct, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    ids = pd.read_csv(tmp_path / "models2" / "lf_dnn" / "csv" / "model_ids.csv").iloc[0]
    again = pd.read_csv(tmp_path / "models2" / "lf_dnn" / "csv" / "classification_category.csv").iloc[0]
    assert ids["corpus"] == "videos" and again["acc"] >= 0.75, again.to_dict()


@pytest.mark.skipif(not have_tools(), reason="espeak-ng is not installed")
def test_interrupted_featurizing_resumes_and_publishes_last(tmp_path, monkeypatch):
    from mmer_tf import featurize

    root = tmp_path / "wavs"
    lines = ["file,label"]
    for i, emotion in enumerate(("happy", "sad", "happy", "sad")):
        write_clip(root / f"{i}.wav", "Hello there", emotion, i, video=False)
        lines.append(f"{i}.wav,{emotion}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "feats"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(media, "write_clips_csv", killed)  # dies after the features, before the clip table
    with pytest.raises(KeyboardInterrupt):
        featurize.featurize_corpus("videos", root, out, progress=False)
    assert not (out / "featurized.json").exists() and not media.is_featurized(out)
    monkeypatch.undo()
    marker = featurize.featurize_corpus("videos", root, out, progress=False)
    assert marker["featurize_summary"]["reused"] == 4 and marker["featurize_summary"]["computed"] == 0
    assert media.is_featurized(out, "videos") and len(media.read_clips_csv(out / "clips.csv")) == 4
