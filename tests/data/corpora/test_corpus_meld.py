"""MELD layout parsing: the official CSVs (quoting, encodings), clip lookup, label sets, splits."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import meld
from mmer_tf.errors import MmerError

HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\r\n"


def _row(sr, text, speaker, emotion, sentiment, dia, utt):
    return f'{sr},{text},{speaker},{emotion},{sentiment},{dia},{utt},3,19,"00:14:38,127","00:14:40,378"\r\n'


def _layout(root: Path, encoding="utf-8", bom=False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    train = HEADER + "".join([
        _row(1, '"Oh, my God, he\u2019s lost it. He\u2019s ""totally"" lost it."', "Phoebe", "sadness", "negative", 0, 0),
        _row(2, '"What?\nNo!"', "Monica", "surprise", "negative", 0, 1),  # quoted line break
        _row(3, "Caf\u00e9 time", "Ross", "joy", "positive", 1, 0),
        _row(4, "Hi", "Joey", "joy", "neutral", 1, 1),  # not a joint class of seed 000
        _row(5, "Missing clip", "Joey", "neutral", "neutral", 125, 3),
        _row(6, "Odd", "Joey", "happy", "positive", 2, 0),  # unknown emotion
    ])
    raw = train.encode(encoding)
    (root / "train_sent_emo.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + raw)
    (root / "dev_sent_emo.csv").write_text(HEADER + _row(1, "Okay.", "Rachel", "neutral", "neutral", 0, 0),
                                           encoding="utf-8")
    (root / "test_sent_emo.csv").write_text(HEADER + _row(1, "No way!", "Chandler", "anger", "negative", 0, 0),
                                            encoding="utf-8")
    for folder, names in {"train_splits": ["dia0_utt0", "dia0_utt1", "dia1_utt0", "dia1_utt1", "dia2_utt0"],
                          "dev_splits_complete": ["dia0_utt0"],
                          "output_repeated_splits_test": ["dia0_utt0", "final_videos_testdia0_utt0"]}.items():
        (root / folder).mkdir()
        for name in names:
            (root / folder / f"{name}.mp4").write_bytes(b"x")
    return root


@pytest.mark.parametrize("encoding,bom", [("utf-8", False), ("utf-8", True), ("cp1252", False)])
def test_scan_official_layout(tmp_path, encoding, bom):
    root = _layout(tmp_path / "MELD.Raw", encoding, bom)
    assert meld.detect(root)
    scan = meld.scan(root)
    ids = [r.id for r in scan.records]
    assert ids == ["train_dia0_utt0", "train_dia0_utt1", "train_dia1_utt0", "train_dia1_utt1",
                   "dev_dia0_utt0", "test_dia0_utt0"]
    first = scan.records[0]
    assert first.text == "Oh, my God, he\u2019s lost it. He\u2019s \"totally\" lost it."
    assert scan.records[1].text == "What?\nNo!"
    assert scan.records[2].text == "Caf\u00e9 time"
    assert first.meta["speaker"] == "Phoebe" and first.meta["dialogue"] == "train_0"
    assert scan.skipped["CSV row without its clip"] == ["train/dia125_utt3.mp4"]
    assert scan.skipped["clip without a CSV row"] == ["test/final_videos_testdia0_utt0.mp4"]
    assert len(scan.skipped["unknown emotion or sentiment label"]) == 1


def test_mojibake_repaired(tmp_path):
    root = _layout(tmp_path / "m")
    text = (root / "train_sent_emo.csv").read_text(encoding="utf-8")
    # the official files' double encoding: UTF-8 bytes read as cp1252 and saved again as UTF-8
    garbled = text.replace("he\u2019s", "he\u2019s".encode("utf-8").decode("cp1252"))
    assert "\u00e2\u20ac\u2122" in garbled
    (root / "train_sent_emo.csv").write_text(garbled, encoding="utf-8")
    assert meld.scan(root).records[0].text.startswith("Oh, my God, he\u2019s lost it.")
    assert meld.repair_text("na\u00efve caf\u00e9") == "na\u00efve caf\u00e9"


def test_nested_layout_and_missing_columns(tmp_path):
    root = tmp_path / "MELD.Raw"
    _layout(root / "train")
    assert meld.detect(tmp_path / "MELD.Raw")
    assert len(meld.scan(root).records) == 6
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train_sent_emo.csv").write_text("Sr No.,Utterance,Speaker\n1,hi,Joey\n")
    (bad / "train_splits").mkdir()
    with pytest.raises(MmerError, match="missing column.*Emotion"):
        meld.scan(bad)
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "dev_sent_emo.csv").write_text(HEADER)
    with pytest.raises(MmerError, match="dev_splits_complete"):
        meld.scan(lonely)


@pytest.mark.parametrize("kind,classes", [("emotion", meld.EMOTIONS), ("sentiment", meld.SENTIMENTS),
                                          ("joint", meld.JOINT)])
def test_label_sets_and_official_splits(tmp_path, kind, classes):
    root = _layout(tmp_path / "m")
    from mmer_tf.data.corpora.media import record_row

    rows = [record_row(r) for r in meld.scan(root).records]
    lab = meld.label(rows, ExperimentConfig(meld_labels=kind))
    assert lab.classes == classes
    assert [f for f, y in zip(lab.fold, lab.label) if y is not None][-2:] == ["valid", "test"]
    named = {r["id"]: classes[y] for r, y in zip(rows, lab.label) if y is not None}
    if kind == "emotion":
        assert named["train_dia0_utt0"] == "sadness" and named["train_dia1_utt1"] == "joy"
    if kind == "joint":
        assert named["train_dia0_utt1"] == "surprise_negative"
        assert "train_dia1_utt1" not in named  # joy x neutral is not one of the 8 joint classes
        assert len(named) == 5
