"""``--finetune vision=kh:<preset>:<N>`` / ``audio=...``: a KerasHub encoder trained inside the model on cached
frames (face crops, or Whisper's log-mel frames).

Tiny ResNet, ViT and Whisper presets (random weights, ``save_to_preset``; ``kh_support``) are fine-tuned through
``kh:<folder>:<N>``. Checked: only the top N blocks' weights change in training (the others, batch-norm
statistics included, stay bit-identical); frames are decoded once into a uint8 cache keyed by their size;
bad flags and backbones are one line; and, end to end, a RAVDESS miniature reaches its table through
``main.py`` in a fresh process and ``python -m mmer_tf predict`` scores a clip with the saved model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kh_support
from raw_media_support import have_tools, make_ravdess, write_clip

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    root = tmp_path_factory.mktemp("presets")
    return {"resnet": kh_support.resnet(root / "resnet"), "vit": kh_support.vit(root / "vit"),
            "bert": kh_support.bert(root / "bert"), "whisper": kh_support.whisper(root / "whisper", num_layers=2)}


def _config(tmp_path, entry, **changes):
    from mmer_tf.config import ExperimentConfig

    values = dict(pickle_folder=str(tmp_path / "cache"), dataset_folder=str(tmp_path), label_type="category",
                  modalities=("vision",),
                  model_name="lf_dnn", finetune=(entry,), num_epochs=1, final_activ="softmax")
    return ExperimentConfig(**{**values, **changes})


def _backbone_weights(backbone) -> dict[str, np.ndarray]:
    """Every variable of the backbone (trainable or not: batch-norm statistics too) by its path."""
    return {variable.path: np.array(variable.numpy()) for variable in backbone.weights}


def _fit_on_noise(config, encoders, modality="vision"):
    """One step of the whole model (encoder, transformer over time, lf_dnn) on random frames or log-mels."""
    import keras

    from mmer_tf import train
    from mmer_tf.finetune import run

    train.seed_everything(0)
    model = run.build_model(config, {}, encoders, 2, aligned=True)
    # eager: one step needs no traced graph (the runner's compile is exercised end to end below)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy", run_eagerly=True)
    rng = np.random.default_rng(0)
    if modality == "vision":
        x = {"vision": rng.integers(0, 256, (8, 3, 32, 32, 3), dtype=np.uint8),
             "vision_mask": np.ones((8, 3), np.float32)}
    else:
        x = {"audio": rng.normal(size=(8, 40, 16)).astype(np.float32), "audio_mask": np.ones((8, 40), np.float32)}
    y = keras.utils.to_categorical(rng.integers(0, 2, 8), 2)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # one step: every trainable weight moves
    return model


@pytest.mark.parametrize("family, entry, trained_prefixes", [
    ("resnet", "1", ("stack1_block0_",)),
    ("vit", "1", ("vit_encoder/transformer_block_3/", "vit_encoder/ln/")),
    ("resnet", "0", ()),
    ("whisper", "1", ("transformer_encoder_layer_1/", "encoder_layer_norm/")),
])
def test_only_the_top_n_blocks_change(presets, tmp_path, family, entry, trained_prefixes):
    from mmer_tf.finetune import run

    modality = "audio" if family == "whisper" else "vision"
    config = _config(tmp_path, f"{modality}=kh:{presets[family]}:{entry}", modalities=(modality,))
    encoders = run.load_encoders(config)
    backbone = encoders[modality].backbone
    before = _backbone_weights(backbone)
    _fit_on_noise(config, encoders, modality)
    after = _backbone_weights(backbone)
    assert before.keys() == after.keys() and before
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    def in_top(key):
        return key.startswith(tuple(trained_prefixes)) if trained_prefixes else False

    assert not {k for k in changed if not in_top(k)}, "weights below the top block(s) changed"
    for prefix in trained_prefixes:  # every trained block learned something
        assert any(k.startswith(prefix) for k in changed), (prefix, sorted(changed)[:5])
    assert len([k for k in before if not in_top(k)]) > len(before) // 3  # the frozen part is not empty


def test_bad_flags_and_backbones_are_one_line(presets, tmp_path):
    from mmer_tf.errors import MmerError
    from mmer_tf.finetune import parse, run

    for entry, words in (("vision=kh:resnet", "number of top blocks"), ("vision=hub:/x:1", "only KerasHub"),
                         ("text=kh:bert:1", "cannot be fine-tuned"), ("vision", "expected vision=kh:"),
                         ("audio=kh:whisper", "number of top blocks"),
                         (f"vision=kh:{tmp_path}/none:1", "no such preset folder")):
        with pytest.raises(MmerError, match=words):
            parse(entry)
    with pytest.raises(MmerError, match="needs a raw-media corpus"):
        run.load_encoders(_config(tmp_path, f"vision=kh:{presets['resnet']}:1", dataset_folder=None))
    with pytest.raises(MmerError, match="has only 2 blocks"):
        run.load_encoders(_config(tmp_path, f"vision=kh:{presets['resnet']}:3"))
    with pytest.raises(MmerError, match="BertBackbone is not a supported vision backbone"):
        run.load_encoders(_config(tmp_path, f"vision=kh:{presets['bert']}:1"))
    with pytest.raises(MmerError, match="ResNetBackbone is not a supported audio backbone"):
        run.load_encoders(_config(tmp_path, f"audio=kh:{presets['resnet']}:1", modalities=("audio",)))
    with pytest.raises(MmerError, match="not among --modalities"):
        run.load_encoders(_config(tmp_path, f"vision=kh:{presets['resnet']}:1", modalities=("audio",)))
    result = subprocess.run([sys.executable, "main.py", "--finetune", "vision=kh:resnet_18_imagenet", "-e", "1"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("error: --finetune vision=kh:resnet_18_imagenet: needs")


@pytest.mark.skipif(not have_tools(), reason="espeak-ng is not installed")
def test_frames_are_decoded_once_and_keyed_by_size(tmp_path):
    from mmer_tf.features import Clip
    from mmer_tf.finetune import frames

    clip = Clip(id="a", media=write_clip(tmp_path / "a.mp4", "Kids are talking", "happy", 1))
    small = frames.FrameParams(size=16, fps=5.0, face_crop=True)
    paths, failed = frames.ensure([clip, Clip(id="bad", media=tmp_path / "missing.mp4")], small, tmp_path)
    assert set(paths) == {"a"} and "bad" in failed
    array = np.load(paths["a"])
    assert array.dtype == np.uint8 and array.shape[1:] == (16, 16, 3) and 3 <= len(array) <= frames.MAX_FRAMES
    assert np.array_equal(array, frames.decode(clip, small))
    stamp = paths["a"].stat().st_mtime_ns
    again, _ = frames.ensure([clip], small, tmp_path)
    assert again["a"].stat().st_mtime_ns == stamp  # read back, not decoded again
    other, _ = frames.ensure([clip], frames.FrameParams(size=24, fps=5.0, face_crop=True), tmp_path)
    assert other["a"].parent != paths["a"].parent and np.load(other["a"]).shape[1:] == (24, 24, 3)


@pytest.mark.skipif(not have_tools(), reason="espeak-ng is not installed")
def test_log_mels_are_the_converters_frames_over_real_audio(presets, tmp_path):
    import keras_hub
    import soundfile

    from mmer_tf.features import Clip
    from mmer_tf.features.media import load_audio
    from mmer_tf.finetune import frames

    wave = np.sin(np.linspace(0, 400 * np.pi, 9000)).astype(np.float32) * 0.3  # 0.56 s at 16 kHz
    soundfile.write(str(tmp_path / "a.wav"), wave, 16000)
    converter = keras_hub.layers.AudioConverter.from_preset(str(presets["whisper"]))
    params = frames.MelParams.of(converter)
    paths, _ = frames.ensure([Clip(id="a", media=tmp_path / "a.wav")], params, tmp_path)
    mels = np.load(paths["a"])
    decoded = load_audio(tmp_path / "a.wav")  # the WAV holds 16-bit samples
    assert len(decoded) == 9000 and np.abs(decoded - wave).max() < 1e-4
    expected = np.asarray(converter(decoded[np.newaxis]))[0][:int(np.ceil(9000 / 160))]
    assert mels.shape == (57, 16) and np.allclose(mels, expected, atol=1e-6)
    assert paths["a"].parent.name.startswith("finetune_mels_")


def _run(args, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
@pytest.mark.skipif(not have_tools(), reason="espeak-ng is not installed")
def test_ravdess_finetuned_to_table_then_predict(presets, tmp_path):
    """main.py fine-tunes the top ResNet block and the top Whisper encoder layer, with the cached text features
    beside them; the saved model reloads in a fresh process (predict) and its frozen blocks are the presets',
    bit for bit, and still frozen."""
    import pandas as pd

    root = make_ravdess(tmp_path / "RAVDESS", repetitions=(1,))
    entries = f"vision=kh:{presets['resnet']}:1,audio=kh:{presets['whisper']}:1"
    _run(["main.py", "-df", str(root), "--emotions", "happy,sad", "--num_folds", "4", "--fold", "2",
          "-mn", "lf_dnn", "-e", "2", "-b", "4", "--seed", "1", "--verbose", "0", "--modalities", "text,audio,vision",
          "--video_recipe", "none", "--finetune", entries,
          "-pf", str(tmp_path / "cache"), "-mf", str(tmp_path / "models")])
    table = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "classification_category.csv")
    assert len(table) == 1 and 0.0 <= table.iloc[0]["acc"] <= 1.0
    ids = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv")
    assert ids.iloc[0]["finetune"] == entries and ids.iloc[0]["n_test"] == 4
    (cached,) = (tmp_path / "cache").glob("finetune_frames_*")
    arrays = [np.load(p) for p in cached.glob("*.npy")]
    assert len(arrays) == 16 and all(a.dtype == np.uint8 and a.shape[1:] == (32, 32, 3) for a in arrays)
    (cached,) = (tmp_path / "cache").glob("finetune_mels_*")
    arrays = [np.load(p) for p in cached.glob("*.npy")]
    assert len(arrays) == 16 and all(a.dtype == np.float32 and a.shape[1] == 16 for a in arrays)

    (model_file,) = (tmp_path / "models" / "lf_dnn").glob("*.keras")
    sidecar = json.loads(Path(str(model_file) + ".recipe.json").read_text())
    assert sidecar["finetune"]["vision"]["size"] == 32 and sidecar["modalities"] == ["text", "audio", "vision"]
    clip = root / "Actor_03" / "01-01-03-01-01-01-03.mp4"
    out = _run(["-m", "mmer_tf", "predict", "--model", str(model_file), "--out", str(tmp_path / "captioned.mp4"),
                "--text", "Kids are talking by the door", str(clip)]).stdout
    assert out.startswith(f"{clip}: ") and "happy=" in out and "sad=" in out
    assert (tmp_path / "captioned.mp4").stat().st_size > 0

    check = ("import sys, numpy as np, keras_hub\n"
             "from mmer_tf import train\n"
             "model = train.load_model(sys.argv[1])\n"
             "for name, tuned, preset in (('vision', model.get_layer('vision_backbone').backbone, sys.argv[2]),\n"
             "                            ('audio', model.get_layer('audio_backbone').encoder, sys.argv[3])):\n"
             "    preset = keras_hub.models.Backbone.from_preset(preset)\n"
             "    for layer in [layer for layer in tuned.layers if layer.get_weights()]:\n"
             "        same = all(np.array_equal(a, b) for a, b in zip(layer.get_weights(),\n"
             "                                                     preset.get_layer(layer.name).get_weights()))\n"
             "        print(name, layer.name, same, layer.trainable)\n")
    lines = _run(["-c", check, str(model_file), str(presets["resnet"]), str(presets["whisper"])]).stdout.split("\n")
    rows = [line.split() for line in lines if line.strip()]
    top = ("stack1_block0", "transformer_encoder_layer_1", "encoder_layer_norm")
    assert {row[0] for row in rows} == {"vision", "audio"}
    assert all((same == "True") != name.startswith(top) for _, name, same, _ in rows if "bn" not in name), rows
    assert all((trainable == "True") == name.startswith(top) for _, name, _, trainable in rows), rows
