"""``python -m mmer_tf predict``: a model trained on raw media captions new clips with their emotion.

One RAVDESS miniature is trained on once (``main.py``, lf_dnn, a speaker-independent fold); then:
the CLI on one clip writes a video with the same frame count, the caption in its bottom band (pixel
difference there, none above), the audio packets copied byte for byte, and the scores it prints are the
model's predictions on that clip's features in the training pipeline's test fold; a folder gives a CSV
row per clip and a corrupt clip is skipped with its reason; models whose features cannot be made from
media are refused in one line before TensorFlow loads.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from raw_media_support import have_tools, make_ravdess

REPO = Path(__file__).resolve().parents[1]
STATEMENT = "Kids are talking by the door"
pytestmark = pytest.mark.skipif(not have_tools(), reason="espeak-ng is not installed")
# --modalities typed: these tests check how predict handles a model that reads text (RAVDESS's own default
# is audio and vision, tests/test_default_task.py)
ARGS = ["--corpus", "ravdess", "--emotions", "happy,sad", "--num_folds", "4", "--fold", "2", "-lt", "category",
        "-mn", "lf_dnn", "-e", "4", "-b", "8", "--seed", "3", "--verbose", "0", "--modalities", "text,audio,vision"]


def _config(root, tmp):
    from absl import flags

    from mmer_tf import cli_flags

    values = flags.FlagValues()
    cli_flags.define_flags(values)
    values(["main.py", *ARGS, "-df", str(root), "-pf", str(tmp / "cache"), "-mf", str(tmp / "models")])
    return cli_flags.config_from_flags(values)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predict")
    root = make_ravdess(tmp / "RAVDESS")
    command = [sys.executable, "main.py", *ARGS, "-df", str(root), "-pf", str(tmp / "cache"),
               "-mf", str(tmp / "models")]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    model = next((tmp / "models" / "lf_dnn").glob("*.keras"))
    from mmer_tf import predict
    from mmer_tf.data import dataset

    config = _config(root, tmp)
    folds, info = dataset.load_folds(config, progress=False)
    return {"root": root, "tmp": tmp, "model": model, "folds": folds, "config": config, "info": info}


@pytest.mark.slow  # uses the model trained through main.py (module fixture, ~30 s)
def test_runner_writes_the_sidecar_predict_reads(trained, tmp_path):
    """main.py leaves <model>.recipe.json beside the best model, equal to what save_model_sidecar writes."""
    import json

    from mmer_tf import predict

    written = predict.sidecar_path(trained["model"])
    assert written.is_file()
    again = predict.save_model_sidecar(tmp_path / trained["model"].name, trained["config"], trained["info"],
                                       trained["folds"]["train"])
    assert json.loads(written.read_text()) == json.loads(again.read_text())
    assert json.loads(written.read_text())["recipe"]  # a raw-media run records its recipe


def _frames(path):
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _audio_packets(path):
    import av

    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


@pytest.mark.slow  # uses the model trained through main.py (module fixture, ~30 s)
def test_cli_captions_one_clip_and_scores_match_the_model(trained, tmp_path):
    from mmer_tf import predict, train
    from mmer_tf.features import Clip

    clip = trained["root"] / "Actor_03" / "01-01-03-01-01-01-03.mp4"  # test actor, happy
    out = tmp_path / "captioned.mp4"
    result = subprocess.run([sys.executable, "-m", "mmer_tf", "predict", "--model", str(trained["model"]), "--out",
                             str(out), "--text", STATEMENT, str(clip)], cwd=REPO, capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    from mmer_tf.fileio import file_mode

    assert out.stat().st_mode & 0o777 == file_mode()  # like every other output, not mkstemp's 0600
    line = result.stdout.strip().splitlines()[-1]
    match = re.match(rf"{re.escape(str(clip))}: (\w+) \(([\d.]+)\)  happy=([\d.]+)  sad=([\d.]+)$", line)
    assert match, line
    printed = np.array([float(match.group(3)), float(match.group(4))])

    # the same features through the training pipeline: the test fold's segment of this clip
    sidecar = predict.load_sidecar(trained["model"])
    model = train.load_model(trained["model"])
    test = trained["folds"]["test"]
    index = test.ids.index(f"{clip.stem}[0]")
    from_fold = predict.model_scores(model, test.subset([index]), sidecar)[0]
    _, scores, failed = predict.predict_clips(trained["model"], [Clip("c", clip, STATEMENT)], sidecar, model)
    assert not failed
    np.testing.assert_allclose(scores[0], from_fold, rtol=0, atol=1e-5)
    np.testing.assert_allclose(printed, from_fold, atol=6e-4)
    assert match.group(1) == ("happy", "sad")[int(np.argmax(from_fold))]

    before, after = _frames(clip), _frames(out)
    assert after.shape == before.shape  # same frame count and size
    caption = f"{match.group(1)} {float(match.group(2)):.2f}"
    top, _ = predict.caption_band(before.shape[1], before.shape[2], caption)
    diff = np.abs(after.astype(np.int16) - before.astype(np.int16))
    assert diff[:, top:].mean() > 40, "no caption in the bottom band"
    assert diff[:, : top - 2].mean() < 6, "the picture above the caption changed"
    assert (after[:, top:].max(axis=(1, 2, 3)) > 200).all()  # white text on every frame
    assert _audio_packets(out) == _audio_packets(clip)  # audio kept: same packets, byte for byte


@pytest.mark.slow  # uses the model trained through main.py (module fixture, ~30 s)
def test_folder_writes_csv_and_skips_a_corrupt_clip(trained, tmp_path):
    from mmer_tf import predict

    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("01-01-03-01-01-02-03.mp4", "01-01-04-01-01-02-03.mp4"):
        shutil.copy(trained["root"] / "Actor_03" / name, folder / name)
    (folder / "broken.mp4").write_bytes(b"\x00\x01 not a video")
    (tmp_path / "transcripts.csv").write_text(
        "file,text\n01-01-03-01-01-02-03.mp4,Kids are talking by the door\n"
        f"{folder / '01-01-04-01-01-02-03.mp4'},Kids are talking by the door\n", encoding="utf-8")
    transcripts = predict.read_transcripts(tmp_path / "transcripts.csv")  # by file name, or by path
    result = predict.run(trained["model"], [str(folder)], out=str(tmp_path / "out"), transcripts=transcripts,
                         stream=open(os.devnull, "w"))
    rows = list(csv.DictReader(open(result["csv"], encoding="utf-8")))
    assert [Path(r["file"]).name for r in rows] == ["01-01-03-01-01-02-03.mp4", "01-01-04-01-01-02-03.mp4",
                                                     "broken.mp4"]
    assert rows[2]["predicted"].startswith("skipped: ")
    for row in rows[:2]:
        scores = [float(row["score_happy"]), float(row["score_sad"])]
        assert row["predicted"] == ("happy", "sad")[int(np.argmax(scores))]
        assert Path(row["captioned"]).is_file()
        assert abs(float(row["score_happy"]) + float(row["score_sad"]) - 1) < 1e-4


@pytest.mark.slow  # uses the model trained through main.py (module fixture, ~30 s)
def test_unaligned_model_featurizes_new_clips_like_its_fold(trained):
    """The unaligned view (each modality at its own rate): the same equality, on a model trained on it."""
    from mmer_tf import predict, train
    from mmer_tf.data import dataset
    from mmer_tf.features import Clip

    tmp, root = trained["tmp"], trained["root"]
    args = [*ARGS, "--noalign_to_text", "-e", "2", "-cn", "unaligned", "-df", str(root), "-pf", str(tmp / "cache"),
            "-mf", str(tmp / "unaligned")]
    result = subprocess.run([sys.executable, "main.py", *args], cwd=REPO, capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    model_path = next((tmp / "unaligned" / "lf_dnn").glob("*.keras"))
    config = _config(root, tmp).replace(align_to_text=False, model_folder=str(tmp / "unaligned"))
    folds, info = dataset.load_folds(config, progress=False)
    if not predict.sidecar_path(model_path).is_file():
        predict.save_model_sidecar(model_path, config, info, folds["train"])
    sidecar = predict.load_sidecar(model_path)
    assert sidecar["aligned"] is False
    model = train.load_model(model_path)
    test = folds["test"]
    clip = root / "Actor_03" / "01-01-04-01-02-02-03.mp4"
    index = test.ids.index(f"{clip.stem}[0]")
    assert test.lengths("audio")[index] > 50  # frames at their own rate, not one collapsed step
    expected = predict.model_scores(model, test.subset([index]), sidecar)[0]
    _, scores, failed = predict.predict_clips(model_path, [Clip("c", clip, "Dogs are sitting by the door")],
                                              sidecar, model)
    assert not failed
    np.testing.assert_allclose(scores[0], expected, rtol=0, atol=1e-5)


def _refusal(args, capsys):
    from mmer_tf.cli import predict

    code = predict.main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ")
    return err


@pytest.mark.slow  # uses the model trained through main.py (module fixture, ~30 s)
def test_models_without_a_media_recipe_are_refused(trained, tmp_path, capsys):
    clip = str(trained["root"] / "Actor_03" / "01-01-03-01-01-01-03.mp4")
    bare = tmp_path / "bare.keras"
    shutil.copy(trained["model"], bare)
    assert "cannot be reproduced from media" in _refusal(["--model", str(bare), clip], capsys)
    mosei = tmp_path / "mosei.keras"
    shutil.copy(trained["model"], mosei)
    sidecar = json.loads(Path(str(trained["model"]) + ".recipe.json").read_text())
    sidecar.update(corpus="mosei", recipe=None, classes=[])
    Path(str(mosei) + ".recipe.json").write_text(json.dumps(sidecar))
    assert "COVAREP" in _refusal(["--model", str(mosei), clip], capsys)
    assert "no such model" in _refusal(["--model", str(tmp_path / "none.keras"), clip], capsys)
    assert "--text" in _refusal(["--model", str(trained["model"]), clip], capsys)  # its model reads text
