"""IEMOCAP: the EmoEvaluation / transcription line formats (real lines, ``xxx``/``oth``, several
annotators and several categories per annotator), the release layout, the 4-/6-class protocols,
the improvised/scripted filter, leave-one-session-out folds, the speaking actor's half of the dialog
video, and a generated miniature reaching its table in one ``main.py`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import detect, iemocap, media
from mmer_tf.errors import MmerError
from raw_media_support import have_tools

REPO = Path(__file__).resolve().parents[3]

# lines as the release writes them (Session1/dialog/EmoEvaluation/Ses01F_impro01.txt style)
EVALUATION = """% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]

[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]
C-E2:\tNeutral state;\t()
C-E3:\tNeutral state;\t()
C-E4:\tNeutral state;\t()
C-F1:\tNeutral state;\t(curious)
A-E3:\tval 3; act 2; dom  2;\t()
A-E4:\tval 2; act 3; dom  3;\t(mildly aggravated but staying polite, attitude)
A-F1:\tval 3; act 2; dom  1;\t()

[10.0100 - 11.3925]\tSes01F_impro01_M001\txxx\t[2.0000, 3.5000, 3.5000]
C-E1:\tFrustration; Anger;\t()
C-E3:\tNeutral state;\t()
C-M1:\tOther;\t(annoyed)
A-E1:\tval 2; act 4; dom  4;\t()

[14.8872 - 18.0175]\tSes01F_script01_1_F002\toth\t[3.0000, 3.0000, 3.0000]
C-E2:\tOther;\t(Excitement, Surprise)
A-E2:\tval 3; act 3; dom  3;\t()
"""

TRANSCRIPTION = """Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.
Ses01F_impro01_M001 [010.0100-011.3925]: Do you have your forms?
Ses01F_impro01_MXX0 [011.4000-012.0000]: [LAUGHTER]
M: not an utterance line
"""


def test_evaluation_parser_real_lines():
    turns = iemocap.parse_evaluation(EVALUATION, "x.txt")
    assert [(t.id, t.start, t.end, t.label) for t in turns] == [
        ("Ses01F_impro01_F000", 6.2901, 8.2357, "neu"), ("Ses01F_impro01_M001", 10.01, 11.3925, "xxx"),
        ("Ses01F_script01_1_F002", 14.8872, 18.0175, "oth")]
    first, second, third = turns
    assert (first.valence, first.activation, first.dominance) == (2.5, 2.5, 2.5)
    assert first.votes == {"E2": ["Neutral state"], "E3": ["Neutral state"], "E4": ["Neutral state"],
                           "F1": ["Neutral state"]}
    assert first.dimensions == {"E3": (3.0, 2.0, 2.0), "E4": (2.0, 3.0, 3.0), "F1": (3.0, 2.0, 1.0)}
    assert second.votes["E1"] == ["Frustration", "Anger"] and second.votes["M1"] == ["Other"]
    assert third.votes == {"E2": ["Other"]}


@pytest.mark.parametrize("line, message", [
    ("[6.29 - 8.23]\tSes01F_impro01_F000\tjoy\t[2.5, 2.5, 2.5]", "unknown IEMOCAP label 'joy'"),
    ("[6.29 - 8.23]\tSes01F_impro01_F000\tneu", "not an IEMOCAP turn line"),
    ("C-E2:\tNeutral state;\t()", "an annotator line before any turn line"),
    ("garbage", "not an IEMOCAP evaluation line"),
])
def test_evaluation_parser_refuses_malformed_lines_naming_them(line, message):
    text = line if line.startswith(("[", "C-")) else "[1.0 - 2.0]\tSes01F_impro01_F000\tneu\t[2, 2, 2]\n" + line
    with pytest.raises(MmerError, match=message) as err:
        iemocap.parse_evaluation(text, "Ses01F_impro01.txt")
    assert str(err.value).startswith("Ses01F_impro01.txt:") and "\n" not in str(err.value)


def test_transcriptions_and_utterance_ids():
    assert iemocap.parse_transcriptions(TRANSCRIPTION) == {
        "Ses01F_impro01_F000": "Excuse me.", "Ses01F_impro01_M001": "Do you have your forms?",
        "Ses01F_impro01_MXX0": "[LAUGHTER]"}
    assert iemocap.utterance_fields("Ses05M_script01_1b_F012") == {
        "dialog": "Ses05M_script01_1b", "session": "5", "kind": "scripted", "gender": "F", "speaker": "Ses05F",
        "marked_gender": "M"}
    assert iemocap.utterance_fields("Ses01F_impro01_M001")["speaker"] == "Ses01M"
    # the actor wearing the markers (the dialog id's letter) is on the left half, the other on the right
    halves = {utt: iemocap.speaker_half(iemocap.utterance_fields(utt)) for utt in (
        "Ses01F_impro01_F000", "Ses01F_impro01_M001", "Ses02M_script01_1_M003", "Ses02M_script01_1_F004")}
    assert halves == {"Ses01F_impro01_F000": "left", "Ses01F_impro01_M001": "right",
                      "Ses02M_script01_1_M003": "left", "Ses02M_script01_1_F004": "right"}


def _layout(root: Path) -> Path:
    """A release-layout skeleton (no media content needed for scan/label)."""
    for session in range(1, 6):
        base = root / f"Session{session}"
        for kind, labels in (("impro01", ("hap", "exc", "fru")), ("script01_1", ("ang", "sad", "xxx"))):
            dialog = f"Ses0{session}F_{kind}"
            lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
            for u, label in enumerate(labels):
                utt = f"{dialog}_{'FM'[u % 2]}{u:03d}"
                lines += [f"[{u + 1:.4f} - {u + 1.5:.4f}]\t{utt}\t{label}\t[3.0000, 3.0000, 3.0000]", ""]
                wav = base / "sentences" / "wav" / dialog / f"{utt}.wav"
                wav.parent.mkdir(parents=True, exist_ok=True)
                wav.write_bytes(b"x")
            (base / "dialog" / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
            (base / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
        (base / "dialog" / "EmoEvaluation" / "Categorical").mkdir(exist_ok=True)  # not read
    return root


def test_layout_protocols_filter_and_leave_one_session_out(tmp_path):
    root = _layout(tmp_path / "IEMOCAP_full_release")
    assert iemocap.detect(root) and iemocap.detect(tmp_path) and detect(root) is iemocap
    found = iemocap.scan(root)
    assert len(found.records) == 30 and not found.skipped
    rows = [media.record_row(r) for r in found.records]
    four = iemocap.label(rows, ExperimentConfig(fold=1))
    assert four.classes == ("angry", "happy", "neutral", "sad")
    named = [four.classes[y] if y is not None else None for y in four.label]
    assert named[:6] == ["happy", "happy", None, "angry", "sad", None]  # exc -> happy; fru, xxx out
    assert four.excluded[2] == "label fru not in the 4class protocol" and four.excluded[5].startswith("label xxx")
    sessions = {(row["session"], fold) for row, fold in zip(rows, four.fold) if fold}
    assert {f for s, f in sessions if s == "2"} == {"test"} and {f for s, f in sessions if s == "3"} == {"valid"}
    assert {s for s, f in sessions if f == "train"} == {"1", "4", "5"}
    six = iemocap.label(rows, ExperimentConfig(fold=4, iemocap_protocol="6class"))
    assert [six.classes[y] if y is not None else None for y in six.label[:6]] == [
        "happy", "excited", "frustrated", "angry", "sad", None]
    assert {row["session"] for row, f in zip(rows, six.fold) if f == "valid"} == {"1"}
    impro = iemocap.label(rows, ExperimentConfig(iemocap_dialogs="improvised"))
    assert all(y is None for row, y in zip(rows, impro.label) if row["kind"] == "scripted")
    assert impro.excluded[3] == "scripted dialog (--iemocap_dialogs improvised)"
    with pytest.raises(MmerError, match="--fold 5: IEMOCAP has 5 leave-one-session-out folds"):
        iemocap.label(rows, ExperimentConfig(fold=5))
    assert set(four.scores) == {"valence", "activation", "dominance"} and four.scores["valence"][:2] == [3.0, 3.0]
    every = iemocap.label(rows, ExperimentConfig(iemocap_protocol="dimensional"))
    assert all(y is not None for y in every.label) and every.classes == iemocap.CODES  # xxx and fru kept


def test_speaking_actors_half_of_the_dialog_video(tmp_path):
    from corpus_media_support import _write_av, split_frame
    from mmer_tf.features.media import iter_frames
    from mmer_tf.features.video import region_of

    frames = [split_frame("F" if t < 20 else "M", "happy", 1, t, marked="F") for t in range(40)]  # 4 s, 10 fps
    video = _write_av(tmp_path / "d.avi", frames, np.zeros(16000 * 4, np.float32), 16000, fmt="avi",
                      vcodec="mpeg4")
    got = list(iter_frames(video, 5, start=2.5, end=3.5))
    assert [k for k, _ in got] == [0, 1, 2, 3, 4]  # timed from the utterance's start
    left, right = region_of(got[0][1], "left"), region_of(got[0][1], "right")
    assert left.shape[1] == right.shape[1] == got[0][1].shape[1] // 2
    # at 2.5 s the male actor (right half) speaks with the happy mouth: the right half differs from the
    # neutral left half and matches the drawn speaker's half
    drawn = split_frame("M", "happy", 1, 25, marked="F")
    half = drawn.shape[1] // 2
    assert np.abs(right.astype(int) - drawn[:, half:].astype(int)).mean() < np.abs(
        right.astype(int) - drawn[:, :half].astype(int)).mean()


@pytest.fixture(scope="module")
def miniature(tmp_path_factory):
    from corpus_media_support import make_iemocap

    if not have_tools():
        pytest.skip("espeak-ng is not installed")
    return make_iemocap(tmp_path_factory.mktemp("iemocap") / "IEMOCAP_full_release")


def _main(args, tmp_path):
    command = [sys.executable, "main.py", *args, "-mn", "lf_dnn", "-b", "4", "--seed", "3", "--verbose", "0",
               "-pf", str(tmp_path / "cache"), "-mf", str(tmp_path / "models")]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=500, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_iemocap_miniature_reaches_its_table_in_one_command(miniature, tmp_path):
    root = miniature
    _main(["-df", str(root), "-lt", "category", "-e", "8", "--fold", "2"], tmp_path)
    ids = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv").iloc[0]
    row = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "classification_category.csv").iloc[0]
    assert ids["corpus"] == "iemocap"
    assert {"f1_angry", "f1_happy", "f1_neutral", "f1_sad"} <= set(row.index)
    # Session 3's 10 labelled utterances (4 happy incl. excited, 2 each other): majority baseline 0.4
    assert row["acc"] > 0.5, row.to_dict()
    clips = pd.read_csv(next((tmp_path / "cache").glob("featurized_iemocap_*")) / "clips.csv")
    assert len(clips) == 60 and set(clips["video_region"]) == {"left", "right"}


@pytest.mark.slow
def test_iemocap_dimensional_regression_in_one_command(miniature, tmp_path):
    _main(["-df", str(miniature), "-lt", "dimensional", "--iemocap_protocol", "dimensional", "-e", "30",
           "--fold", "2"], tmp_path)
    row = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "dimensional.csv").iloc[0]
    assert {"valence_ccc", "activation_ccc", "dominance_ccc", "valence_mae", "mae", "ccc"} <= set(row.index)
    # Session 3's 12 turns (xxx included): the planted valence (happy 4-4.5, sad 1.5, angry 1.5) is learnt
    assert row["valence_ccc"] > 0.3 and row["valence_mae"] < 1.0, row.to_dict()
