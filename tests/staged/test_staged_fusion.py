"""Staged fusion (seed 003) and M2FNet's triplet loss (seed 000): branch weights loaded from unimodal runs
exactly, mismatches named, frozen branches stay put, auxiliary heads leave the saved model and its outputs
alone (weight 0 = the plain loss), the triplet loss against a hand-computed oracle, and a fusion model
started from a unimodal run beating its random twin on validation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from mmer_tf import staged, train
from mmer_tf.config import ExperimentConfig
from mmer_tf.data import pipeline
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError
from mmer_tf.models import registry
from mmer_tf.staged.branches import branch_output, fused_embedding, weighted_branch_layers
from mmer_tf.staged.triplet import batch_hard_triplet_loss

REPO = Path(__file__).resolve().parents[2]
DIMS = {"audio": 6, "vision": 12}


def _config(model="lf_dnn", modalities=("audio", "vision"), **changes):
    base = dict(model_name=model, modalities=modalities, label_type="category", final_activ="softmax",
                num_nodes=16, dropout_rate=0.1, learning_rate=1e-2, seed=5, verbose=0)
    hparams = {"lf_dnn": {"hidden": 16}, "lf_lstm": {"units": 8}, "attn_fusion": {"d": 16, "heads": 2},
               "lfan": {"vision_channels": "6,4", "audio_channels": "4,4", "modal_dim": 4, "tcn_kernel_size": 3}}
    base["model_hparams"] = hparams.get(model, {})
    base.update(changes)
    return ExperimentConfig(**base)


def _build(config, seed):
    keras.utils.set_random_seed(seed)
    return registry.build_model(config, {m: DIMS[m] for m in config.modalities}, 3)


def _data(n, seed, signal=4.0):
    """The class is which of three pairs of audio features has the largest norm (signs random, so no linear
    read-out of the pooled features finds it: a branch must learn it); vision is pure noise."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, n)
    lengths = rng.integers(2, 6, n)
    audio, vision = [], []
    for c, steps in zip(classes, lengths):
        z = rng.normal(size=DIMS["audio"])
        z[2 * c:2 * c + 2] *= signal
        audio.append((z + 0.3 * rng.normal(size=(int(steps), DIMS["audio"]))).astype("float32"))
        vision.append(rng.normal(size=(int(steps), DIMS["vision"])).astype("float32"))
    labels = np.eye(3, dtype="float32")[classes]
    return SegmentSet(ids=[f"s{i}" for i in range(n)], features={"audio": audio, "vision": vision},
                      labels=labels), labels


def _dataset(config, n=48, seed=0, shuffle=False):
    segments, labels = _data(n, seed)
    return pipeline.make_dataset(segments, labels, batch_size=16, shuffle=shuffle, seed=config.seed,
                                 modalities=config.modalities)


@pytest.mark.parametrize("model_name", ["lf_dnn", "lf_lstm", "attn_fusion", "lfan"])
def test_init_from_loads_exactly_the_unimodal_branch_weights(tmp_path, model_name):
    unimodal = _build(_config(model_name, ("audio",)), seed=1)
    path = tmp_path / "audio.keras"
    unimodal.save(path)
    fusion = _build(_config(model_name), seed=2)
    vision_before = [w.numpy().copy() for layer in weighted_branch_layers(fusion, "vision") for w in layer.weights]
    head_before = fusion.get_layer("output").get_weights()
    loaded = staged.load_branches(fusion, {"audio": str(path)})
    names = [layer.name for layer in weighted_branch_layers(fusion, "audio")]
    assert loaded["audio"] == names and names
    for name in names:
        got, want = fusion.get_layer(name).get_weights(), unimodal.get_layer(name).get_weights()
        assert len(got) == len(want) > 0
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    vision_after = [w.numpy() for layer in weighted_branch_layers(fusion, "vision") for w in layer.weights]
    for a, b in zip(vision_before, vision_after):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(head_before, fusion.get_layer("output").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_init_from_mismatch_is_one_line_naming_the_layer(tmp_path):
    narrower = _build(_config("lf_dnn", ("audio",), model_hparams={"hidden": 8}), seed=1)
    narrower.save(tmp_path / "narrow.keras")
    deeper = _build(_config("lf_dnn", ("audio",), model_hparams={"hidden": 16, "sub_layers": 3}), seed=1)
    deeper.save(tmp_path / "deep.keras")
    fusion = _build(_config(), seed=2)
    with pytest.raises(MmerError, match=r"layer audio_dense1 has weights") as error:
        staged.load_branches(fusion, {"audio": str(tmp_path / "narrow.keras")})
    assert "\n" not in str(error.value)
    with pytest.raises(MmerError, match=r"layer audio_dense3 of that model has no counterpart"):
        staged.load_branches(fusion, {"audio": str(tmp_path / "deep.keras")})
    with pytest.raises(MmerError, match="no saved model"):
        staged.load_branches(fusion, {"audio": str(tmp_path / "missing.keras")})
    with pytest.raises(MmerError, match="not among --modalities"):
        staged.parse_init_from(["text=a.keras"], ("audio", "vision"))


def test_branch_outputs_and_embedding_by_convention():
    for name in ("lf_dnn", "lf_lstm", "attn_fusion"):
        model = _build(_config(name), seed=0)
        assert tuple(branch_output(model, "audio").shape) [1:] != ()
        assert len(fused_embedding(model).shape) == 2
    for name in ("ef_lstm", "lfan"):  # early fusion; lfan's branches stay sequences (init and freeze only)
        with pytest.raises(MmerError, match="no per-modality branch output"):
            branch_output(_build(_config(name), seed=0), "audio")
    with pytest.raises(MmerError, match="no fused embedding"):
        fused_embedding(_build(_config("lfan"), seed=0))


def _view(config, model):
    view = staged.prepare(model, config, "classes", 3, "categorical_crossentropy")
    train.compile_model(view, config, "classes")
    train.compile_model(model, config, "classes")
    return view


def test_aux_weights_zero_leave_the_loss_equal_to_the_plain_loss():
    config = _config(aux_loss=("audio=0", "vision=0"), triplet_margin="adaptive", triplet_weight=0.0)
    model = _build(config, seed=3)
    view = _view(config, model)
    data = _dataset(config)
    plain = model.evaluate(data, verbose=0, return_dict=True)["loss"]
    assert view.evaluate(data, verbose=0, return_dict=True)["loss"] == pytest.approx(plain, rel=1e-6)
    weighted = _config(aux_loss=("audio=4", "vision=0"))
    other = _view(weighted, _build(weighted, seed=3))
    assert other.evaluate(data, verbose=0, return_dict=True)["loss"] > plain + 0.5  # 4 x a cross-entropy


@pytest.mark.slow
def test_aux_heads_never_reach_the_saved_model_or_its_outputs(tmp_path):
    config = _config(aux_loss=("audio=4", "vision=1"), triplet_margin="0.2")
    model = _build(config, seed=4)
    view = _view(config, model)
    data = _dataset(config, shuffle=True)
    batch = next(iter(_dataset(config)))[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(view(batch)[0]), keras.ops.convert_to_numpy(model(batch)),
                               rtol=1e-6)
    checkpoint = tmp_path / "best.keras"
    view.fit(data, validation_data=_dataset(config), epochs=2, verbose=0,
             callbacks=train.callbacks_for(config.replace(num_epochs=2), checkpoint))
    reloaded = train.load_model(checkpoint)
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]
    assert not any(layer.name.startswith("aux_") for layer in reloaded.layers)
    np.testing.assert_allclose(reloaded.predict(batch, verbose=0), model.predict(batch, verbose=0), rtol=1e-5)


def _triplet_oracle(labels, embeddings, margin):
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    losses = []
    for a in range(len(labels)):
        pos = [np.linalg.norm(unit[a] - unit[p]) for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        neg = [np.linalg.norm(unit[a] - unit[n]) for n in range(len(labels)) if labels[n] != labels[a]]
        if not pos or not neg:
            continue
        d_ap, d_an = max(pos), min(neg)
        if margin is None:
            s_ap, s_an = 1 - d_ap ** 2 / 2, 1 - d_an ** 2 / 2
            m = max(0.0, (1 + s_an - s_ap) / 2)
        else:
            m = margin
        losses.append(max(0.0, d_ap - d_an + m))
    return float(np.mean(losses))


@pytest.mark.parametrize("margin", [None, 0.3])
def test_triplet_loss_matches_a_hand_computed_batch(margin):
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 1, 1, 1, 2, 0, 3])  # class 2 and 3 have no positive: left out as anchors
    embeddings = rng.normal(size=(8, 5)).astype("float32")
    got = float(batch_hard_triplet_loss(np.eye(4, dtype="float32")[labels], embeddings, margin))
    assert got == pytest.approx(_triplet_oracle(labels, embeddings, margin), rel=1e-5)
    assert got > 0
    separated = np.eye(4, dtype="float32")[labels] * 10 + 0.01 * embeddings[:, :4]
    assert float(batch_hard_triplet_loss(np.eye(4, dtype="float32")[labels], separated, 0.3)) == 0.0


@pytest.mark.slow
def test_frozen_branches_stay_put_then_train(tmp_path):
    if keras.backend.backend() != "tensorflow":
        with pytest.raises(MmerError, match="needs the TensorFlow backend"):
            staged.check_config(_config(init_from=("audio=a.keras",), freeze_branches=1))
        return
    config = _config()
    model = _build(config, seed=6)
    train.compile_model(model, config, "classes")
    audio = weighted_branch_layers(model, "audio")
    snapshots = []

    class Snap(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(([layer.get_weights() for layer in audio], model.get_layer("output").get_weights()))

    start = [layer.get_weights() for layer in audio]
    head = model.get_layer("output").get_weights()
    checkpoint = train.BestModelCheckpoint(tmp_path / "best.keras", "loss", "min")
    model.fit(_dataset(config, shuffle=True), epochs=2, verbose=0,
              callbacks=[staged.FreezeBranches(("audio",), 1), Snap(), checkpoint])
    for before, after in zip(start, snapshots[0][0]):
        for a, b in zip(before, after):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(head[0], snapshots[0][1][0])  # the rest trained in epoch 1
    assert any(not np.array_equal(a, b) for before, after in zip(start, snapshots[1][0]) for a, b in zip(before, after))
    assert all(layer.trainable for layer in audio)
    assert all(layer.trainable for layer in train.load_model(tmp_path / "best.keras").layers)  # saved unfrozen


def _val_accuracy(model, config, epochs, callbacks=()):
    train.compile_model(model, config, "classes")
    segments, labels = _data(240, seed=11)
    data = pipeline.make_dataset(segments, labels, batch_size=16, shuffle=True, seed=config.seed,
                                 modalities=config.modalities)
    model.fit(data, epochs=epochs, verbose=0, callbacks=list(callbacks))
    segments, labels = _data(150, seed=12)
    valid = pipeline.make_dataset(segments, labels, batch_size=50, shuffle=False, seed=0,
                                  modalities=config.modalities)
    return model.evaluate(valid, verbose=0, return_dict=True)["acc"]


@pytest.mark.slow
def test_fusion_started_from_a_unimodal_run_beats_its_random_twin(tmp_path):
    unimodal_config = _config(modalities=("audio",))
    unimodal = _build(unimodal_config, seed=7)
    unimodal_acc = _val_accuracy(unimodal, unimodal_config, epochs=30)
    assert unimodal_acc > 0.8  # the audio branch has learnt the classes
    unimodal.save(tmp_path / "audio.keras")
    config = _config(init_from=(f"audio={tmp_path / 'audio.keras'}",), freeze_branches=1)
    gains = []
    for seed in (8, 9, 10):  # one epoch of fusion training each; the twin differs only in its start
        staged_model = _build(config, seed=seed)
        staged.load_branches(staged_model, {"audio": str(tmp_path / "audio.keras")})
        staged_acc = _val_accuracy(staged_model, config, epochs=1, callbacks=staged.callbacks(config))
        twin_acc = _val_accuracy(_build(config.replace(init_from=(), freeze_branches=0), seed=seed), config, epochs=1)
        gains.append(staged_acc - twin_acc)
    # measured: +0.25, +0.06, +0.13 (staged 0.86/0.78/0.87, twin 0.61/0.72/0.75 on 150 validation segments)
    assert min(gains) > 0 and np.mean(gains) > 0.08, gains


def _main(args, tmp_path):
    command = [sys.executable, "main.py", *args, "-pf", str(tmp_path / "cache"), "-mf", str(tmp_path / "models"),
               "-b", "16", "--seed", "3", "--verbose", "1", "-lt", "category", "-mn", "lf_dnn",
               "--lf_dnn_hidden", "16", "--modality_map", "speech=audio,face=vision"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_staged_fusion_through_main_py(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from corpus_files import feature_folder

    root = feature_folder(tmp_path / "merc", sizes=(120, 30, 30), modalities=("speech", "face"), dims=(6, 5),
                          seed=2, vectors=())
    first = _main(["-df", str(root), "--modalities", "audio", "-e", "4", "-opt", "ranger", "--weight_decay", "5e-5",
                   "--mixup_alpha", "1", "--label_smoothing", "0.1", "--time_mask", "1"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    ids = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv")
    audio_run = ids.iloc[-1]["model_file"]
    assert Path(audio_run).is_file()
    second = _main(["-df", str(root), "--modalities", "audio,vision", "-e", "2", "-opt", "sgd", "--momentum", "0.9",
                    "--nesterov", "--lr_schedule", "step", "--lr_step", "1", "--init_from", f"audio={audio_run}",
                    "--freeze_branches", "1", "--aux_loss", "audio=4,vision=0", "--triplet_margin", "adaptive",
                    "--class_weight", "balanced", "--min_num_epochs", "2"], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "--init_from: audio branch" in second.stderr
    ids = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv")
    row = ids.iloc[-1]
    assert row["init_from"] == f"audio={audio_run}" and row["aux_loss"] == "audio=4,vision=0"
    assert row["epochs_run"] == 2
    table = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "classification_category.csv")
    assert len(table) == 2
    fusion = train.load_model(row["model_file"])
    assert not any(layer.name.startswith("aux_") for layer in fusion.layers)
    bad = _main(["-df", str(root), "--modalities", "audio,vision", "-e", "1",
                 "--init_from", "audio=" + str(tmp_path / "nope.keras")], tmp_path)
    assert bad.returncode != 0 and "no saved model there" in bad.stderr
    assert "Traceback" not in bad.stderr
