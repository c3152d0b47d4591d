"""Training loop: learning happens, seeding reproduces weights, early stopping restores the best epoch,
the checkpoint is written and reloads, and the compile rules (optimizer, loss, acc) hold."""

import numpy as np
import pytest

import keras

from mmer_tf import train
from mmer_tf.config import ExperimentConfig
from mmer_tf.data.pipeline import dims_of, make_dataset
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError
from mmer_tf.models import registry


def learnable_set(n=40, seed=0):
    """Target: mean over real steps of the first text feature (a masked-mean the model can learn)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 7, size=n)
    text = [rng.normal(size=(l, 3)).astype(np.float32) for l in lengths]
    audio = [rng.normal(size=(l, 2)).astype(np.float32) for l in lengths]
    targets = np.array([[t[:, 0].mean()] for t in text], np.float32)
    seg = SegmentSet(ids=[f"v{i}[0]" for i in range(n)], features={"text": text, "audio": audio},
                     labels=np.zeros((n, 7)))
    return seg, targets


def config(**changes):
    base = ExperimentConfig(model_name="ef_williams", num_layers=1, num_nodes=8, dropout_rate=0.0,
                            model_hparams={"lstm_units": 6}, learning_rate=0.01, batch_size=8,
                            num_epochs=6, patience=3, loss_function="mean_squared_error", seed=5)
    return base.replace(**changes)


def run(cfg, seg, targets, valid=None, checkpoint=None, extra_callbacks=()):
    train.seed_everything(cfg.seed)
    train.configure_precision(cfg)
    model = registry.build_model(cfg, dims_of(seg), targets.shape[1])
    train.compile_model(model, cfg, "scores")
    steps = cfg.fixed_num_steps
    train_ds = make_dataset(seg, targets, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, fixed_steps=steps)
    valid_ds = None if valid is None else make_dataset(valid[0], valid[1], batch_size=16, shuffle=False, seed=0,
                                                       fixed_steps=steps)
    if extra_callbacks:  # record-only callbacks run alongside the suite's own
        original = train.callbacks_for
        train.callbacks_for = lambda *a, **k: original(*a, **k) + list(extra_callbacks)
        try:
            history = train.fit(model, train_ds, valid_ds, cfg, checkpoint)
        finally:
            train.callbacks_for = original
    else:
        history = train.fit(model, train_ds, valid_ds, cfg, checkpoint)
    return model, history


@pytest.mark.slow  # ~8 s in a not-slow run on the shared machine
def test_loss_decreases_on_a_learnable_problem():
    seg, y = learnable_set()
    _, history = run(config(num_epochs=10, patience=10), seg, y, valid=(seg, y))  # variable length
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert set(history.history) >= {"loss", "acc", "mae", "val_loss", "val_acc", "val_mae"}


@pytest.mark.slow  # ~11 s in a not-slow run on the shared machine
def test_same_seed_gives_identical_weights():
    seg, y = learnable_set()
    first, _ = run(config(num_epochs=2, fixed_num_steps=6), seg, y)
    second, _ = run(config(num_epochs=2, fixed_num_steps=6), seg, y)
    other, _ = run(config(num_epochs=1, fixed_num_steps=6, seed=6), seg, y)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first.get_weights(), other.get_weights()))


class RecordWeights(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.per_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.per_epoch.append([w.copy() for w in self.model.get_weights()])


@pytest.mark.slow  # ~8 s in a not-slow run on the shared machine
def test_early_stopping_restores_best_weights_and_checkpoint_holds_them(tmp_path):
    """Validation targets are the negated training targets: the better the fit, the worse val_loss."""
    seg, y = learnable_set()
    recorder = RecordWeights()
    path = tmp_path / "models" / "best.keras"
    cfg = config(num_epochs=8, patience=2, fixed_num_steps=6)
    model, history = run(cfg, seg, y, valid=(seg, -y), checkpoint=str(path), extra_callbacks=[recorder])
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) < cfg.num_epochs and len(val) == best + cfg.patience + 1  # stopped early
    for now, then in zip(model.get_weights(), recorder.per_epoch[best]):
        np.testing.assert_array_equal(now, then)
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), recorder.per_epoch[-1]))
    assert path.is_file() and not [p for p in path.parent.iterdir() if p.name != "best.keras"]
    reloaded = train.load_model(path)
    ds = make_dataset(seg, y, batch_size=16, shuffle=False, seed=0, fixed_steps=6)
    np.testing.assert_allclose(reloaded.predict(ds, verbose=0), model.predict(ds, verbose=0), rtol=1e-6)


@pytest.mark.slow
def test_val_acc_monitor_and_probability_targets(tmp_path):
    seg, y = learnable_set()
    labels = (y > 0).astype(np.float32)
    cfg = config(val_metric="acc", final_activ="sigmoid", loss_function=ExperimentConfig().loss_function,
                 num_epochs=2, fixed_num_steps=6)
    train.seed_everything(cfg.seed)
    model = registry.build_model(cfg, dims_of(seg), 1)
    train.compile_model(model, cfg, "probabilities")
    assert model.loss == "binary_crossentropy"
    ds = make_dataset(seg, labels, batch_size=8, shuffle=False, seed=0, fixed_steps=6)
    history = train.fit(model, ds, ds, cfg, str(tmp_path / "m.keras"))
    accs = history.history["val_acc"]
    assert all(0.0 <= a <= 1.0 for a in accs) and (tmp_path / "m.keras").is_file()
    assert train.monitor_of(cfg) == ("val_acc", "max")


def test_loss_rule():
    default = ExperimentConfig()
    assert train.resolve_loss(default, "scores") == "mean_absolute_error"
    assert train.resolve_loss(default.replace(final_activ="sigmoid"), "probabilities") == "binary_crossentropy"
    assert train.resolve_loss(default.replace(loss_function="mean_squared_error"), "probabilities") == \
        "mean_squared_error"  # an explicit choice is kept
    assert train.resolve_loss(default.replace(final_activ="softmax"), "classes") == "categorical_crossentropy"
    with pytest.raises(MmerError, match="final_activ"):
        train.resolve_loss(default, "probabilities")  # BCE on a linear output would be nonsense
    with pytest.raises(MmerError, match="loss_function"):
        train.resolve_loss(default.replace(loss_function="nope"), "scores")


def test_rounded_accuracy_golden():
    y_true = np.array([[0.0, 1.0, 2.9, 0.4], [3.0, 0.0, 0.0, 1.6]], np.float32)
    y_pred = np.array([[0.2, 1.4, 2.6, 0.6], [2.4, -0.3, 0.51, 2.0]], np.float32)
    got = keras.ops.convert_to_numpy(train.rounded_accuracy(y_true, y_pred))
    np.testing.assert_allclose(got, [0.75, 0.5])


@pytest.mark.parametrize("name, cls", [("adam", "Adam"), ("sgd", "SGD"), ("adagrad", "Adagrad"),
                                       ("adadelta", "Adadelta"), ("rmsprop", "RMSprop")])
def test_optimizers_by_name(name, cls):
    opt = train.make_optimizer(ExperimentConfig(optimizer=name, learning_rate=0.05))
    assert type(opt).__name__ == cls
    assert np.isclose(float(keras.ops.convert_to_numpy(opt.learning_rate)), 0.05)


def test_flag_errors():
    with pytest.raises(MmerError, match="optimizer"):
        train.make_optimizer(ExperimentConfig(optimizer="lbfgs"))
    with pytest.raises(MmerError, match="val_metric"):
        train.monitor_of(ExperimentConfig(val_metric="f1"))
    with pytest.raises(MmerError, match=".keras"):
        train.callbacks_for(ExperimentConfig(), "model.h5")


def test_precision_and_jit_flags():
    try:
        assert train.configure_precision(ExperimentConfig(mixed_precision=True)) == "mixed_float16"
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
        model = registry.build_model(config(), {"text": 3}, 2)
        train.compile_model(model, config(jit_compile=True), "scores")
        assert model.jit_compile is True
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert model.get_layer("output").dtype_policy.compute_dtype == "float32"
    finally:
        assert train.configure_precision(ExperimentConfig()) == "float32"
    model = registry.build_model(config(), {"text": 3}, 2)
    train.compile_model(model, config(), "scores")
    assert model.jit_compile is False


def test_a_typed_loss_is_honoured_for_every_label_type(caplog):
    """The original's run_cluster.sh trains -lt present with -lf mean_absolute_error -a linear: kept, with a
    warning; only a loss the user did not type follows the targets."""
    typed = ExperimentConfig(loss_function="mean_absolute_error", final_activ="linear")
    with caplog.at_level("WARNING", logger="mmer_tf.train"):
        assert train.resolve_loss(typed, "probabilities") == "mean_absolute_error"
    assert "unusual" in caplog.text and "as typed" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="mmer_tf.train"):
        assert train.resolve_loss(typed, "scores") == "mean_absolute_error"  # the usual pair: no warning
    assert caplog.text == ""
    assert train.resolve_loss(typed.replace(loss_function="binary_crossentropy", final_activ="sigmoid"),
                              "scores") == "binary_crossentropy"
    assert train.default_loss("probabilities") == "binary_crossentropy"
    assert ExperimentConfig().loss_function == ""  # "" = the task's default, so "typed" survives the config


def test_checkpoint_follows_the_umask_like_every_other_output(tmp_path):
    import os

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    checkpoint = train.BestModelCheckpoint(tmp_path / "best.keras", "val_loss", "min")
    checkpoint.set_model(model)
    old = os.umask(0o022)
    try:
        checkpoint.on_epoch_end(0, {"val_loss": 1.0})
    finally:
        os.umask(old)
    assert ((tmp_path / "best.keras").stat().st_mode & 0o777) == 0o644  # mkstemp's 0600 before the fix
    assert [p.name for p in tmp_path.iterdir()] == ["best.keras"]  # no temporary left beside it


def test_a_checkpoint_that_cannot_be_written_is_one_line_naming_it(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    checkpoint = train.BestModelCheckpoint(tmp_path / "best.keras", "val_loss", "min")
    checkpoint.set_model(model)

    def full_disk(path, *args, **kwargs):
        open(path, "wb").write(b"half")
        raise OSError(28, "No space left on device")  # no file name, as Keras' zip writer raises it

    monkeypatch.setattr(model, "save", full_disk)
    with pytest.raises(MmerError) as error:
        checkpoint.on_epoch_end(0, {"val_loss": 1.0})
    assert str(error.value) == f"{tmp_path / 'best.keras'}: cannot save the best model (No space left on device)"
    assert list(tmp_path.iterdir()) == []  # the half-written temporary is gone
