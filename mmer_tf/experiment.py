"""One run, end to end: folds -> tf.data -> model -> fit -> test predictions -> metric tables.

This is the only module that knows the order of the steps; each step lives in its own room
(``data``, ``models``, ``train``, ``metrics``, ``results``) and is called from here with plain values.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from dataclasses import dataclass

import numpy as np

from mmer_tf.config import ExperimentConfig, parameter_columns
from mmer_tf.errors import MmerError

log = logging.getLogger("mmer_tf")


@dataclass
class RunResult:
    run_id: int
    families: dict[str, list[dict]]
    baseline: dict[str, list[dict]]
    paths: object
    info: dict
    monitor: str = ""  # the -v quantity early stopping watched (val_loss / val_acc)
    validation: float | None = None  # its value at the restored best epoch: what a search selects on


def _setup_logging(verbose: int) -> None:
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    log.propagate = False


def _print_families(title: str, families: dict[str, list[dict]], keys) -> None:
    for family, rows in families.items():
        for row in rows:
            shown = {k: row[k] for k in ("threshold",) + tuple(keys) if k in row}
            log.info("%s %-30s %s", title, family, "  ".join(f"{k}={v}" for k, v in shown.items()))


def _log_load_summary(info: dict) -> None:
    """Print what the adapter dropped or cleaned, with counts and reasons, like the align CLI does."""
    from mmer_tf.data.align import format_drop_summary

    for line in format_drop_summary(info.get("load_summary") or {}):
        log.warning("data: %s", line)


def _save_artefact(unsaved: list[str], what: str, save, *args, **kwargs) -> None:
    """Call ``save``; a file system failure is noted in ``unsaved`` (reported after the tables are written)."""
    try:
        save(*args, **kwargs)
    except (OSError, MmerError) as exc:
        reason = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and exc.filename else str(exc)
        log.warning("could not save the %s (%s); the run's tables are written anyway", what, reason)
        unsaved.append(f"{what} ({reason})")


def run(config: ExperimentConfig, *, callbacks=(), tags=None, discard_on=None) -> RunResult:
    """Train ``config.model_name`` on the configured corpus and append one run to the tables.

    ``callbacks``: more Keras callbacks for fit (a search trial's pruning); ``tags``: more
    ``model_ids.csv`` columns that say why the run was made (a search's ``study``, ``trial``, ``final``).
    A run that ends by one of ``discard_on`` (default :data:`mmer_tf.results.DISCARD_ON`: a user error,
    a refused file, Ctrl-C) before its rows exist leaves nothing: its artefacts go and its id is released.
    """
    from mmer_tf import results

    with results.holding(discard_on or results.DISCARD_ON) as held:
        return _run(config, held, callbacks=callbacks, tags=tags)


def _run(config: ExperimentConfig, held, *, callbacks=(), tags=None) -> RunResult:
    _setup_logging(config.verbose)
    started = time.time()

    from mmer_tf import tasks
    from mmer_tf.data import dataset
    from mmer_tf.models import registry

    spec = registry.get(config.model_name)
    registry.validate(config.model_name, registry.resolve_hparams(config.model_name, config.model_hparams))
    if not config.append_label_to_data:
        raise MmerError("-al/--append_label_to_data: labels are required to train; drop --noappend_label_to_data")

    # Cheap: find the corpus and its label columns, and refuse an impossible corpus/task pair before any work.
    opened = dataset.open_corpus(config)
    _adapter, corpus, _name = opened
    from mmer_tf import corpus_defaults

    config = corpus_defaults.follow_corpus(config, _adapter, corpus)  # -lt, -a, --modalities not typed
    task = tasks.check_supported(config.label_type, tasks.LabelSchema(corpus.label_names, corpus.classes),
                                 corpus.name)
    from mmer_tf import results

    # Every table this run appends to is readable and the output folders writable: found now, not after training.
    paths = results.RunPaths.for_config(config)
    results.check_tables(paths, task.tables(config))

    from mmer_tf.finetune import run as finetune

    # --finetune: the fine-tuned modality comes as cached frames, not features (folds, model: below)
    folds, info = dataset.load_folds(finetune.feature_config(config), progress=config.verbose > 0, opened=opened)
    _log_load_summary(info)
    folds, encoders, streams = finetune.prepare(config, folds, info)
    train_set, valid_set, test_set = folds["train"], folds["valid"], folds["test"]
    schema = tasks.LabelSchema.of(info)
    if spec.needs_aligned and not train_set.aligned:
        raise MmerError(f"-mn {config.model_name}: needs word-aligned input; drop --noalign_to_text")
    for name, fold in folds.items():
        if len(fold) == 0:
            raise MmerError(f"fold '{name}' is empty for this corpus and split; check -df and -c")
    log.info("data: %s | train %d, valid %d, test %d segments | dims %s",
             info.get("dataset"), len(train_set), len(valid_set), len(test_set), train_set.dims())

    import keras

    from mmer_tf import plots, train
    from mmer_tf.data import pipeline

    output_kind = task.output_kind(config)
    y_train = task.targets(config, train_set.labels, schema)
    y_valid = task.targets(config, valid_set.labels, schema)
    y_test = task.targets(config, test_set.labels, schema)
    num_outputs = task.num_outputs(config, schema)
    # A corpus labelled per frame trains on windows and is scored per frame and per video (seed 002).
    from mmer_tf import frame_level

    frames = frame_level.for_folds(config, task, schema, folds)
    if frames is not None:
        results.check_tables(paths, frames.tables())

    # distribution: devices/processes first (JAX needs it before any computation).
    from mmer_tf import distributed, resume

    placement = distributed.setup(config)
    if placement.drop_remainder:  # data_parallel trains and validates on full global batches only
        for name, fold in (("training", train_set), ("validation", valid_set)):
            if len(fold) < config.batch_size:
                raise MmerError(f"-b/--batch_size {config.batch_size}: the {name} fold has only {len(fold)} "
                                "segments, less than one global batch under --distribution data_parallel")
    # Seed before any dataset exists: tf.data shuffles combine their own seed with the global one.
    train.seed_everything(config.seed)
    make = dict(batch_size=config.batch_size, fixed_steps=config.fixed_num_steps,
                modalities=finetune.feature_config(config).modalities)
    if frames is None:
        train_ds = pipeline.make_dataset(train_set, y_train, shuffle=True, seed=config.seed,
                                         drop_remainder=placement.drop_remainder, streams=streams.get("train", ()),
                                         **make)
        valid_ds = pipeline.make_dataset(valid_set, y_valid, shuffle=False, seed=config.seed,
                                         drop_remainder=placement.drop_remainder, streams=streams.get("valid", ()),
                                         **make)
        test_ds = pipeline.make_dataset(test_set, y_test, shuffle=False, seed=config.seed,
                                        streams=streams.get("test", ()), **make)
    else:  # windows with per-step targets and weights
        train_ds, valid_ds, test_ds = frames.datasets(pipeline, batch_size=config.batch_size, seed=config.seed,
                                                      modalities=config.modalities,
                                                      drop_remainder=placement.drop_remainder)
    from mmer_tf import augment, staged

    # --mixup_alpha, --time_mask, --feature_mask, --class_weight: training batches only
    train_ds = augment.for_training(train_ds, config, y_train, output_kind)

    # resume: a re-run of a killed run keeps its run id and continues from its last epoch.
    state = resume.RunState(resume.folder_for(paths, config), chief=placement.is_chief).acquire()
    run_id, status = state.begin(paths, lambda: results.reserve_run_id(paths.csv_dir))
    if status == "recorded":
        log.info("run %d is already recorded in %s (an earlier attempt wrote it); nothing to do",
                 run_id, paths.csv_dir)
        state.clear()
        return RunResult(run_id, {}, {}, paths, info)
    if placement.is_chief:
        held.hold(paths, run_id)  # discarded (checkpoint, id) if the run ends before its rows exist
        log.info("run %d: model %s (%s), task %s (-lt %s), outputs %d", run_id, config.model_name,
                 ",".join(config.modalities), task.name, config.label_type, num_outputs)
    else:
        log.info("process %d of %d trains with process 0, which records the run", placement.process_id,
                 placement.num_processes)

    train.configure_precision(config)
    with placement.scope():
        if encoders:  # the fine-tuned encoders inside, then the chosen model
            model = finetune.build_model(config, train_set.dims(), encoders, num_outputs, aligned=train_set.aligned)
        else:
            model = registry.build_model(config, train_set.dims(), num_outputs, per_step=frames is not None)
        # --init_from loads branches; --aux_loss/--triplet_margin train through a view sharing the model's layers
        trainer = staged.prepare(model, config, output_kind, num_outputs,
                                 augment.training_loss(train.resolve_loss(config, output_kind), config))
        train.compile_model(trainer, config, output_kind, step_weights=frames is not None)
        if trainer is not model:  # the model itself evaluates, predicts and is saved
            train.compile_model(model, config, output_kind, step_weights=frames is not None)
    checkpoint = paths.best_model(run_id)
    extra_callbacks = list(callbacks)
    tensorboard = None
    if config.tensorboard and placement.is_chief:
        from mmer_tf.callbacks.tensorboard import TensorBoardLog

        tensorboard = TensorBoardLog(TensorBoardLog.folder_for(paths, run_id), fresh=status != "resumed")
        extra_callbacks.append(tensorboard)
    # Saving a model is a collective in multi-process JAX: every process saves, only process 0 keeps it.
    scratch = None if placement.is_chief else tempfile.TemporaryDirectory(prefix="mmer_worker_")
    history = train.fit(trainer, train_ds, valid_ds, config,
                        checkpoint if scratch is None else Path(scratch.name) / checkpoint.name,
                        resume=state, run_id=run_id, extra_callbacks=extra_callbacks)

    scorer = placement.local_model(model)  # data_parallel: predict the whole test set on this process
    predictions = np.asarray(scorer.predict(test_ds, verbose=0), dtype=np.float32)
    test_loss = float(scorer.evaluate(test_ds, verbose=0, return_dict=True)["loss"])
    if scratch is not None:  # only process 0 writes tables, models and plots
        scratch.cleanup()
        state.release()
        return RunResult(run_id, {}, {}, paths, info)
    if frames is None:
        families = task.evaluate(config, test_set.labels, predictions, schema)
        baseline = task.evaluate(config, test_set.labels,
                                 task.baseline(config, train_set.labels, len(test_set), schema), schema)
    else:  # windows stitched to one prediction per frame; -sp / -scm then hold the videos' predictions
        per_frame = frames.stitch(predictions)
        families, baseline = frames.evaluate(per_frame), frames.baseline()
        predictions = frames.video_predictions(per_frame)
    for rows in families.values():  # the original suite writes the test loss in every table
        for row in rows:
            row["test_loss"] = round(test_loss, config.round_decimals)
    _print_families("baseline", baseline, task.headline())
    _print_families(f"run {run_id}", families, ("test_loss",) + tuple(task.headline()))

    monitor, _ = train.monitor_of(config)
    best = plots.best_epoch(history.history, monitor)
    validation = float(history.history[monitor][best]) if best is not None else None
    # The metrics exist from here: a plot or file that cannot be written must not cost the tables.
    unsaved: list[str] = []
    _save_artefact(unsaved, "history plot", plots.plot_history, history.history, paths.history_plot(run_id),
                   monitor=monitor, title=f"{config.model_name} run {run_id}", display=config.display_fig)
    # What `python -m mmer_tf predict` needs to featurize new clips as this model's training data was.
    from mmer_tf import predict as predict_cli

    _save_artefact(unsaved, "predict sidecar", predict_cli.save_model_sidecar, checkpoint, config, info, train_set)
    # What `python -m mmer_tf evaluate` needs to rebuild this run's test fold: every config field.
    from mmer_tf import runconfig

    _save_artefact(unsaved, "config sidecar", runconfig.save_config_sidecar, checkpoint, config)
    if config.save_predictions:
        extra = {"classes": np.asarray(schema.classes)} if schema.classes else {}
        _save_artefact(unsaved, "-sp predictions", results.save_predictions, paths.predictions(run_id),
                       ids=np.asarray(test_set.ids), true_labels=test_set.labels, predictions=predictions,
                       label_names=np.asarray(schema.label_names), **extra)
    if config.save_confusion_matrix:
        _save_artefact(unsaved, "-scm confusion matrices", task.save_confusion, config, paths, run_id,
                       test_set.labels, predictions, schema)

    params = parameter_columns(config)
    params.update(
        dataset=info.get("dataset"), corpus=info.get("corpus"), task=task.name,
        n_train=len(train_set), n_valid=len(valid_set), n_test=len(test_set),
        epochs_run=len(history.history.get("loss", [])),
        best_epoch=(best + 1) if best is not None else 0,
        model_params=int(model.count_params()), keras_backend=keras.backend.backend(),
        model_file=str(checkpoint),
        loss_function=config.loss_function or train.default_loss(output_kind),
        best_valid_value=validation,  # the -v metric at best_epoch: what a search selected on
    )
    from mmer_tf import provenance

    params.update(provenance.columns(info))  # code, library versions, data fingerprint, device
    params.update(tags or {})
    finished = time.time()
    held.recorded(paths, run_id)  # from here its rows exist: in the tables, or saved as JSON by write_run
    results.write_run(paths, run_id, params, families, started, finished)
    state.clear()  # resume: the rows are written, the saved state is done with
    if tensorboard is not None:
        _save_artefact(unsaved, "TensorBoard summary", tensorboard.write_summary, params, families, run_id)
    log.info("run %d written to %s in %.1f s", run_id, paths.csv_dir, finished - started)
    if unsaved:
        raise MmerError(f"run {run_id} is recorded in {paths.csv_dir}, but not its {'; '.join(unsaved)}")
    return RunResult(run_id, families, baseline, paths, info, monitor=monitor, validation=validation)
