"""Optimisation options: Ranger against a hand-computed update, the schedules' rates by epoch, warmup,
minimum epochs before early stopping, and the optimiser factory's flags (momentum, Nesterov, weight decay)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from mmer_tf.config import ExperimentConfig
from mmer_tf.errors import MmerError
from mmer_tf.optim import MinEpochsEarlyStopping, Ranger, build_optimizer, learning_rate_at, schedule_callbacks


def _ranger_reference(w0, grad_fn, steps, lr, b1=0.95, b2=0.999, eps=1e-5, k=6, alpha=0.5, threshold=5.0, wd=0.0):
    """RAdam + Lookahead written out from the published algorithm, in float64 NumPy."""
    w = np.array(w0, dtype=np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    slow = None
    rho_inf = 2.0 / (1.0 - b2) - 1.0
    for t in range(1, steps + 1):
        g = grad_fn(w)
        w = w - lr * wd * w  # decoupled decay before the step (Keras applies it first)
        if slow is None:
            slow = w.copy()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        rho_t = rho_inf - 2.0 * t * b2 ** t / (1.0 - b2 ** t)
        if rho_t > threshold:
            r = math.sqrt((1 - b2 ** t) * (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            w = w - lr * r / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
        else:
            w = w - lr / (1 - b1 ** t) * m
        if t % k == 0:
            slow = slow + alpha * (w - slow)
            w = slow.copy()
    return w


@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_ranger_matches_hand_computed_update(wd):
    a = np.array([[2.0, 0.5, 0.0], [0.0, 1.0, -1.0], [1.0, 0.0, 3.0]])
    b = np.array([1.0, -2.0, 0.5])

    def grad(w):  # gradient of 0.5 * ||A w - b||^2
        return a.T @ (a @ w - b)

    w0 = np.array([0.3, -0.2, 0.1])
    steps, lr = 14, 0.05  # crosses the rectification threshold (step 6) and two lookahead syncs (6, 12)
    variable = keras.Variable(w0.astype(np.float32))
    optimizer = Ranger(learning_rate=lr, weight_decay=wd or None)
    for _ in range(steps):
        g = grad(np.asarray(variable.numpy(), dtype=np.float64)).astype(np.float32)
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
    expected = _ranger_reference(w0, grad, steps, lr, wd=wd)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=2e-5, atol=2e-6)
    # and the reference is not trivially satisfied: the weights moved
    assert np.abs(expected - w0).max() > 0.05


@pytest.mark.slow
def test_ranger_trains_a_model_and_reloads():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32"))[:, None]
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=Ranger(learning_rate=0.1), loss="mse")
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first / 10
    config = keras.optimizers.serialize(model.optimizer)
    again = keras.optimizers.deserialize(config)
    assert isinstance(again, Ranger) and again.lookahead_steps == 6


def _config(**changes):
    base = dict(learning_rate=0.1, num_epochs=200)
    base.update(changes)
    return ExperimentConfig(**base)


def test_step_schedule_rates_at_chosen_epochs():
    config = _config(lr_schedule="step", lr_step=50, lr_gamma=0.9)
    rates = {e: learning_rate_at(config, e) for e in (0, 49, 50, 99, 100, 150)}
    assert rates == pytest.approx({0: 0.1, 49: 0.1, 50: 0.09, 99: 0.09, 100: 0.081, 150: 0.0729})


def test_cosine_and_warmup_rates():
    config = _config(lr_schedule="cosine", num_epochs=10, warmup_epochs=2)
    got = [learning_rate_at(config, e) for e in range(10)]
    assert got[:2] == pytest.approx([0.05, 0.1])  # linear warmup to -lr
    assert got[2] == pytest.approx(0.1)  # cosine starts at -lr after the warmup
    assert got[6] == pytest.approx(0.05)  # half-way through the 8 cosine epochs
    assert got[9] == pytest.approx(0.1 * (1 + math.cos(math.pi * 7 / 8)) / 2)
    assert learning_rate_at(_config(), 123) == 0.1  # none: constant


@pytest.mark.slow
def test_step_schedule_drives_the_optimizer_during_fit():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    config = _config(lr_schedule="step", lr_step=2, lr_gamma=0.5, num_epochs=5, learning_rate=0.2)
    model.compile(optimizer=build_optimizer(config), loss="mse")
    x = np.ones((8, 2), "float32")
    history = model.fit(x, np.zeros((8, 1), "float32"), epochs=5, verbose=0,
                        callbacks=schedule_callbacks(config, "loss", "min"))
    assert history.history["learning_rate"] == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05])


def test_plateau_reduces_after_patience_following_warmup():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    config = _config(lr_schedule="plateau", lr_gamma=0.5, lr_patience=1, warmup_epochs=1, learning_rate=0.2)
    model.compile(optimizer=build_optimizer(config), loss="mse")
    callbacks = schedule_callbacks(config, "val_loss", "min")
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    rates = []
    for epoch, value in enumerate([5.0, 4.0, 4.0, 4.0, 4.0]):
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        rates.append(float(model.optimizer.learning_rate.numpy()))
        for callback in callbacks:
            callback.on_epoch_end(epoch, {"val_loss": value})
    # epoch 0 is warmup (unwatched); 4.0 at epoch 1 is the best; each later flat epoch exhausts patience 1
    assert rates == pytest.approx([0.2, 0.2, 0.2, 0.1, 0.05])


def _run_stopper(stopper, values, stop_first=False):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    stopper.set_model(model)
    stopper.on_train_begin()
    for epoch, value in enumerate(values):
        model.stop_training = stop_first and epoch == len(values) - 1
        stopper.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            return epoch + 1
    return len(values)


def test_min_num_epochs_vetoes_an_early_stop():
    worse = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert _run_stopper(MinEpochsEarlyStopping(min_epochs=0, monitor="val_loss", patience=1), worse) == 2
    assert _run_stopper(MinEpochsEarlyStopping(min_epochs=5, monitor="val_loss", patience=1), worse) == 5
    stopper = MinEpochsEarlyStopping(min_epochs=5, monitor="val_loss", patience=1, restore_best_weights=True)
    _run_stopper(stopper, worse)
    assert stopper.best_epoch == 0  # the best epoch is tracked from the start
    # a stop another callback asked for (TerminateOnNaN) is never overridden
    assert _run_stopper(MinEpochsEarlyStopping(min_epochs=9, monitor="val_loss", patience=1), worse[:3],
                        stop_first=True) == 3


def test_optimizer_factory_flags():
    sgd = build_optimizer(_config(optimizer="sgd", momentum=0.9, nesterov=True, weight_decay=5e-5))
    assert isinstance(sgd, keras.optimizers.SGD)
    assert sgd.momentum == pytest.approx(0.9) and sgd.nesterov and sgd.weight_decay == pytest.approx(5e-5)
    adamw = build_optimizer(_config(optimizer="adam", weight_decay=1e-2))
    assert isinstance(adamw, keras.optimizers.Adam) and adamw.weight_decay == pytest.approx(1e-2)
    assert isinstance(build_optimizer(_config(optimizer="ranger")), Ranger)
    with pytest.raises(MmerError, match="--nesterov"):
        build_optimizer(_config(optimizer="adam", nesterov=True))
    with pytest.raises(MmerError, match="--momentum"):
        build_optimizer(_config(optimizer="sgd", momentum=1.5))


@pytest.mark.slow
def test_a_model_trained_with_ranger_reloads_in_a_fresh_process(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=Ranger(learning_rate=0.01), loss="mse")
    model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=0)
    model.save(tmp_path / "ranger.keras")
    code = ("from mmer_tf import train; m = train.load_model(__import__('sys').argv[1]); "
            "print(type(m.optimizer).__name__, m.optimizer.lookahead_steps)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ranger.keras")], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[2], timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["Ranger", "6"]


@pytest.mark.parametrize("argv, message", [
    ("-opt adam --nesterov", "--nesterov applies to -opt sgd only"),
    ("-opt adam --momentum 0.9", "--momentum applies to -opt sgd and rmsprop"),
    ("-lt category --aux_loss text=1 --modalities audio,vision", "text is not among --modalities"),
    ("-lt all --triplet_margin adaptive", "needs one class per segment"),
    ("-lt category --triplet_margin big", "neither 'adaptive' nor a number"),
    ("--freeze_branches 2", "give --init_from"),
    ("--init_from audio=run.h5", "expects a saved .keras model"),
    ("-lt all -lf mean_absolute_error --label_smoothing 0.1", "applies to cross-entropy losses"),
    ("-lt all --class_weight balanced", "needs one class per segment"),
    ("--mask_modalities text --modalities audio", "not among --modalities"),
])
def test_recipe_flags_are_checked_before_any_work(argv, message):
    import shlex

    from absl import flags

    from mmer_tf import cli_flags

    values = flags.FlagValues()
    cli_flags.define_flags(values)
    values(["main.py", *shlex.split(argv)])
    with pytest.raises(MmerError, match=message) as error:
        cli_flags.config_from_flags(values)
    assert "\n" not in str(error.value)
