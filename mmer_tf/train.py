"""Compile and fit any registered model: optimiser, loss, metrics, callbacks, seeding, precision.

Call order for one run (``mmer_tf.experiment`` does this)::

    seed_everything(config.seed)      # before the model is built: weight init draws from it
    configure_precision(config)       # before the model is built: layers read the global policy
    model = registry.build_model(config, dims, num_outputs)
    compile_model(model, config, output_kind)
    history = fit(model, train_ds, valid_ds, config, checkpoint_path)

Loss rule for ``output_kind`` (see :func:`resolve_loss`): a typed ``-lf`` is always honoured (a
warning says when it is unusual for the targets, e.g. the original suite's ``-lt present -lf
mean_absolute_error -a linear``); when ``-lf`` is not given (``config.loss_function == ""``) the default
follows the targets: mean absolute error for ``"scores"``, binary cross-entropy for ``"probabilities"``
(targets in {0, 1}, one sigmoid per class), categorical cross-entropy for ``"classes"`` (one-hot, softmax). The ``acc`` metric (so ``-v acc`` works) fits the targets: for scores, the share of
outputs whose rounded prediction equals the rounded truth (coarse 0/1/2/3 agreement); for
probabilities, binary accuracy at 0.5; for classes, categorical accuracy.

Everything here is Keras API, so it runs on any backend; TensorFlow is touched only for op
determinism (when TensorFlow is the backend).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import keras
from keras import ops

from mmer_tf.config import ExperimentConfig
from mmer_tf.errors import MmerError
from mmer_tf.fileio import file_mode
from mmer_tf.keras_names import check_loss_name

log = logging.getLogger("mmer_tf.train")

OUTPUT_KINDS = ("scores", "probabilities", "classes")
_KIND_DEFAULT_LOSS = {"scores": "mean_absolute_error", "probabilities": "binary_crossentropy",
                      "classes": "categorical_crossentropy"}
_KIND_ACTIVATION = {"probabilities": "sigmoid", "classes": "softmax"}


# ----------------------------------------------------------------------------------------------
# seeding and precision
# ----------------------------------------------------------------------------------------------

def seed_everything(seed: int, deterministic_ops: bool = True) -> None:
    """Seed Python, NumPy and the backend; on TensorFlow also make ops deterministic.

    Op determinism costs little on CPU and makes two runs with the same seed end with identical
    weights (parallel reductions otherwise add in varying order). It is process-wide;
    :func:`compile_model` switches it off again for ``--jit_compile`` (Keras will not use XLA with it),
    and ``deterministic_ops=False`` skips it for callers that want raw GPU speed.
    """
    keras.utils.set_random_seed(int(seed))
    if deterministic_ops and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def configure_precision(config: ExperimentConfig) -> str:
    """Set the global dtype policy from ``--mixed_precision``; returns the policy name.

    ``mixed_float16`` computes in float16 with float32 variables; models keep their final layer in
    float32 (``dtype="float32"``) and ``compile`` wraps the optimiser in loss scaling by itself.
    """
    name = "mixed_float16" if config.mixed_precision else "float32"
    keras.mixed_precision.set_global_policy(name)
    return name


# ----------------------------------------------------------------------------------------------
# compile
# ----------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="mmer_tf")
def rounded_accuracy(y_true, y_pred):
    """Per row, share of outputs whose prediction rounds to the same integer as the truth.

    For presence scores in [0, 3] this is the coarse-level (0/1/2/3) agreement, the accuracy that makes
    sense for regression targets.
    """
    y_pred = ops.cast(y_pred, y_true.dtype)
    return ops.mean(ops.cast(ops.equal(ops.round(y_true), ops.round(y_pred)), "float32"), axis=-1)


def make_optimizer(config: ExperimentConfig):
    """The ``-opt`` optimiser with the ``-lr`` learning rate (momentum, weight decay: ``mmer_tf.optim``)."""
    from mmer_tf.optim import build_optimizer

    return build_optimizer(config)


def _check_kind(output_kind: str) -> str:
    if output_kind not in OUTPUT_KINDS:
        raise ValueError(f"output_kind must be one of {OUTPUT_KINDS}, got {output_kind!r}")
    return output_kind


def resolve_loss(config: ExperimentConfig, output_kind: str) -> str:
    """The loss name to train with (the module docstring states the rule) and check it exists."""
    kind = _check_kind(output_kind)
    typed = bool(config.loss_function)
    name = config.loss_function or _KIND_DEFAULT_LOSS[kind]
    check_loss_name(name)
    default = _KIND_DEFAULT_LOSS[kind]
    wanted = _KIND_ACTIVATION.get(kind)
    if not typed:
        if wanted and config.final_activ != wanted:
            raise MmerError(f"-a/--final_activ {config.final_activ}: the default loss for {kind} targets, {name}, "
                            f"needs -a {wanted}; give -lf to train this head with another loss")
    elif name != default or (wanted and config.final_activ != wanted):
        log.warning("-lf %s with -a %s on %s targets: unusual (the default is -lf %s%s); training with it as typed",
                    name, config.final_activ, kind, default, f" -a {wanted}" if wanted else "")
    return name


def default_loss(output_kind: str) -> str:
    """The loss a run trains with when ``-lf`` is not given (recorded in ``model_ids.csv``)."""
    return _KIND_DEFAULT_LOSS[_check_kind(output_kind)]


def accuracy_metric(output_kind: str):
    """The metric logged as ``acc`` for these targets (see the module docstring)."""
    kind = _check_kind(output_kind)
    if kind == "probabilities":
        return keras.metrics.BinaryAccuracy(name="acc", threshold=0.5)
    if kind == "classes":
        return keras.metrics.CategoricalAccuracy(name="acc")
    return keras.metrics.MeanMetricWrapper(rounded_accuracy, name="acc")


def _allow_xla() -> None:
    """Keras refuses XLA while TensorFlow op determinism is on; ``--jit_compile`` wins over determinism.

    (XLA runs are then not bit-reproducible: the trade the user asked for by passing the flag.)
    """
    if keras.backend.backend() != "tensorflow":
        return
    from tensorflow.python.framework import config as tf_config

    if tf_config.is_op_determinism_enabled():
        tf_config.disable_op_determinism()
        log.info("--jit_compile: TensorFlow op determinism switched off (XLA does not support it)")


def compile_model(model, config: ExperimentConfig, output_kind: str, step_weights: bool = False):
    """Compile ``model`` in place (optimiser, loss, ``acc`` and ``mae`` metrics, ``--jit_compile``).

    ``step_weights=True`` (batches carry per-step weights: a corpus labelled per frame) makes the metrics
    weighted as the loss is, so unlabelled and padded steps count in neither.
    """
    if config.jit_compile:
        _allow_xla()
    metrics = [accuracy_metric(output_kind)]
    if output_kind == "scores":
        metrics.append(keras.metrics.MeanAbsoluteError(name="mae"))
    from mmer_tf.augment import training_loss

    model.compile(
        optimizer=make_optimizer(config),
        loss=training_loss(resolve_loss(config, output_kind), config),  # --label_smoothing, if any
        metrics=None if step_weights else metrics,
        weighted_metrics=metrics if step_weights else None,
        jit_compile=bool(config.jit_compile),
    )
    return model


# ----------------------------------------------------------------------------------------------
# callbacks and fit
# ----------------------------------------------------------------------------------------------

def monitor_of(config: ExperimentConfig, has_validation: bool = True) -> tuple[str, str]:
    """``(quantity, mode)`` watched by early stopping and the checkpoint, from ``-v``."""
    if config.val_metric not in ("loss", "acc"):
        raise MmerError(f"-v/--val_metric: must be 'loss' or 'acc', got {config.val_metric!r}")
    prefix = "val_" if has_validation else ""
    return prefix + config.val_metric, ("min" if config.val_metric == "loss" else "max")


class BestModelCheckpoint(keras.callbacks.Callback):
    """Save the whole model (``.keras``) whenever ``monitor`` improves, atomically.

    Keras' ModelCheckpoint writes straight to the target; this one writes a temporary ``.keras`` next
    to it and renames it into place, so an interrupted run never leaves a half-written best model.
    """

    def __init__(self, path: str | os.PathLike, monitor: str, mode: str):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.mode = mode
        self.best = None
        self.best_epoch = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or value != value:  # missing or NaN
            return
        value = float(value)
        if not self._improved(value):
            return
        self.best, self.best_epoch = value, epoch
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=".tmp.keras")
        os.close(fd)
        try:
            # a training view (auxiliary heads, triplet loss: mmer_tf.staged) saves the model it trains
            saved = getattr(self.model, "inference_model", self.model)
            if saved is not self.model and saved.optimizer is not None and not saved.optimizer.built:
                saved.optimizer.build(saved.trainable_variables)  # so a reload finds every optimiser slot
            saved.save(tmp)
            # mkstemp made it 0600; give it the mode every other output has (umask-respecting, 0644 usually)
            os.chmod(tmp, file_mode())
            os.replace(tmp, self.path)
        except BaseException as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(exc, OSError):  # Keras' zip writer raises without a file name: name it here
                raise MmerError(f"{self.path}: cannot save the best model ({exc.strerror or exc})") from None
            raise


class EpochLog(keras.callbacks.Callback):
    """One compact line per epoch: metrics and wall time (Keras' own progress bar is turned off)."""

    def __init__(self, num_epochs: int):
        super().__init__()
        self.num_epochs = num_epochs
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        shown = "  ".join(f"{key} {float(value):.4f}" for key, value in sorted((logs or {}).items())
                          if key != "learning_rate")
        log.info("epoch %d/%d  %s  (%.1f s)", epoch + 1, self.num_epochs, shown,
                 time.perf_counter() - self._start)


def callbacks_for(config: ExperimentConfig, checkpoint_path, has_validation: bool = True) -> list:
    """EarlyStopping (best weights restored), best-model checkpoint, TerminateOnNaN, epoch log."""
    monitor, mode = monitor_of(config, has_validation)
    if config.patience < 0:
        raise MmerError(f"-p/--patience must be >= 0, got {config.patience}")
    from mmer_tf import optim, staged

    found = [
        keras.callbacks.TerminateOnNaN(),
        # --min_num_epochs: may not stop earlier (0: Keras' EarlyStopping exactly)
        optim.MinEpochsEarlyStopping(min_epochs=int(config.min_num_epochs), monitor=monitor, mode=mode,
                                     patience=int(config.patience), restore_best_weights=True),
        *optim.schedule_callbacks(config, monitor, mode),  # --lr_schedule, --warmup_epochs
        *staged.callbacks(config),  # --freeze_branches
    ]
    if checkpoint_path is not None:
        if not str(checkpoint_path).endswith(".keras"):
            raise MmerError(f"{checkpoint_path}: the best-model checkpoint must be a .keras file")
        found.append(BestModelCheckpoint(checkpoint_path, monitor, mode))
    found.append(EpochLog(int(config.num_epochs)))
    return found


def fit(model, train_ds, valid_ds, config: ExperimentConfig, checkpoint_path, *, resume=None, run_id: int = 0,
        extra_callbacks=()):
    """Train up to ``-e`` epochs with early stopping on ``-v``; returns Keras' ``History``.

    After the call the model holds the best epoch's weights (``restore_best_weights``; also when the
    last epoch is reached without stopping early), and ``checkpoint_path`` holds that model.
    ``resume`` (a ``mmer_tf.resume.RunState``) continues a killed run from its last completed epoch
    and saves the state after every epoch; the returned history covers every epoch either way.
    ``extra_callbacks`` (TensorBoard events, a search trial's pruning) run after the training ones and
    before the resume state is saved, so an epoch a callback aborts is not saved as done.
    """
    if config.num_epochs < 1:
        raise MmerError(f"-e/--num_epochs must be >= 1, got {config.num_epochs}")
    callbacks = callbacks_for(config, checkpoint_path, has_validation=valid_ds is not None)
    # resume: pin the shuffle to the epoch, restore a killed run, save after each epoch.
    from mmer_tf import resume as resume_lib

    first, last, initial_epoch = resume_lib.attach(model, train_ds, callbacks, resume, run_id,
                                                   int(config.num_epochs))
    # shuffle=False: the tf.data pipeline already reshuffles every epoch (Keras would only warn).
    history = model.fit(train_ds, validation_data=valid_ds, epochs=int(config.num_epochs),
                        callbacks=first + callbacks + list(extra_callbacks) + last, verbose=0, shuffle=False,
                        initial_epoch=initial_epoch)
    return resume_lib.merged_history(history, last)


def load_model(path: str | os.PathLike):
    """Reload a saved ``.keras`` model (registers this suite's layers and metrics first)."""
    from mmer_tf.models.blocks import register_all

    register_all()  # every model's custom layers, whichever model the file holds
    import mmer_tf.optim.ranger  # noqa: F401  (registers Ranger: a model trained with it saves its optimiser)

    path = Path(path)
    if not path.is_file():
        raise MmerError(f"{path}: no saved model there")
    import zipfile

    # A .keras file is a zip archive holding config.json and the weights; anything else (a truncated
    # copy, an HDF5 .h5 renamed, a text file) is one line, not Keras' "File not found" or a KeyError.
    if not zipfile.is_zipfile(path):
        raise MmerError(f"{path}: not a Keras model file (a .keras file is a zip archive; this is not one)")
    try:
        return keras.saving.load_model(path)
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise MmerError(f"{path}: not a usable Keras model file ({reason})") from None


__all__ = [
    "BestModelCheckpoint",
    "EpochLog",
    "OUTPUT_KINDS",
    "accuracy_metric",
    "callbacks_for",
    "compile_model",
    "configure_precision",
    "fit",
    "load_model",
    "make_optimizer",
    "monitor_of",
    "resolve_loss",
    "rounded_accuracy",
    "seed_everything",
]
