"""absl flag definitions for ``main.py`` and their translation into one :class:`ExperimentConfig`.

Short names are the seed's (``-df -pnd -pnf -pf -t -al -c -v -f -b -s -l -n -d -a -mf -mn -cf -cn -e -p
-lr -lf -rd``, plus ``-lt -opt -nc -tp -sp -scm``). Each registered model's hyper-parameters become
``--<model>_<name>`` flags with the paper's defaults; only the chosen model's values enter the config.
Defaults come from :class:`ExperimentConfig`, so the flag help and the dataclass cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import os

from mmer_tf.config import IMAGE_FEATURES, OPTIMIZERS, VAL_METRICS, ExperimentConfig
from mmer_tf.data.folds import CUSTOM_SPLITS
from mmer_tf.data.segments import MODALITIES
from mmer_tf.errors import MmerError
from mmer_tf.keras_names import check_activation_name, check_loss_name

_DEFAULTS = ExperimentConfig()
SEED_MAX = 2**32 - 1  # NumPy's (and so Keras') seed range
NORMALIZATIONS = ("train", "segment", "none")


def _corpus_names() -> tuple[str, ...]:
    """The registry's corpora, for the help; a broken plugin leaves the help usable (the run names it)."""
    from mmer_tf.data import corpora

    try:
        return corpora.names()
    except MmerError:
        return ("a registered adapter",)


def _recipe_help(modality: str) -> str:
    """The registry's recipe kinds for ``modality``, for the help (see :func:`_corpus_names`)."""
    from mmer_tf.features import kinds

    try:
        return kinds.help_text(modality)
    except MmerError:
        return "a registered recipe kind"


def define_flags(FLAGS) -> None:
    """Define every flag on ``FLAGS`` (an absl FlagValues)."""
    from absl import flags

    d = _DEFAULTS
    kw = {"flag_values": FLAGS}
    # data
    flags.DEFINE_string("dataset_folder", d.dataset_folder,
                        "Folder of CMU-MOSEI/MOSI computational sequences (.csd). Absent: the built-in "
                        "CMU-MOSEI-shaped sample.", short_name="df", **kw)
    flags.DEFINE_string("corpus", d.corpus,
                        "Corpus layout of -df (default: detected): one of " + ", ".join(_corpus_names())
                        + " (see the README's corpus table).", **kw)
    flags.DEFINE_string("pickle_name_dataset", d.pickle_name_dataset,
                        "Name of the cached aligned dataset (file stem in the cache folder).", short_name="pnd", **kw)
    flags.DEFINE_string("pickle_name_fold", d.pickle_name_fold,
                        "Name of the cached train/valid/test folds.", short_name="pnf", **kw)
    flags.DEFINE_string("pickle_folder", d.pickle_folder, "Cache folder.", short_name="pf", **kw)
    flags.DEFINE_boolean("align_to_text", d.align_to_text,
                         "Align every modality to the words (mean collapse), then to the label segments. "
                         "--noalign_to_text keeps each modality at its own rate (unaligned view, for MulT).",
                         short_name="t", **kw)
    flags.DEFINE_boolean("append_label_to_data", d.append_label_to_data,
                         "Align to the label segments (always needed to train; kept for the seed's command lines).",
                         short_name="al", **kw)
    flags.DEFINE_boolean("with_custom_split", d.with_custom_split,
                         "The original suite's re-split of the standard folds after Williams et al. (2018); "
                         "--custom_split chooses the exact original or the corrected one.",
                         short_name="c", **kw)
    flags.DEFINE_enum("custom_split", d.custom_split, CUSTOM_SPLITS,
                      "Which -c split: the original suite's, exactly (its train/valid overlap and dropped videos "
                      "included), or the corrected one (every video in one fold). See docs/SEED_COMPAT.md.", **kw)
    flags.DEFINE_enum("image_feature", d.image_feature, IMAGE_FEATURES, "Visual features.", short_name="f", **kw)
    flags.DEFINE_integer("fixed_num_steps", d.fixed_num_steps,
                         "Keep the last N steps of every sequence (zero-pad shorter ones); 0 = variable length "
                         "with masks.", lower_bound=0, short_name="s", **kw)
    flags.DEFINE_enum("normalization", d.normalization, NORMALIZATIONS,
                      "Audio/visual z-normalisation: training-set statistics, per segment (the seed), or none.", **kw)
    flags.DEFINE_list("modalities", list(d.modalities), "Modalities to use: any of text,audio,vision.", **kw)
    flags.DEFINE_integer("sample_videos", d.sample_videos,
                         "Videos in the built-in sample (used when no -df is given).", lower_bound=12, **kw)
    # feature folders
    flags.DEFINE_list("modality_map", list(d.modality_map),
                      "Feature folders: map modality folder names onto text/audio/vision, e.g. "
                      "speech=audio,face=vision (unmapped folders are ignored). Empty: folders must be named "
                      "text/audio/vision.", **kw)
    flags.DEFINE_enum("missing", d.missing_modality, ("drop", "impute", "error"),
                      "Feature folders: a segment lacking a modality's file (or whose file is empty or all NaN) is "
                      "dropped, imputed as one all-zero step, or an error naming the file.", **kw)
    # raw media corpora
    for modality in ("audio", "text", "video"):
        flags.DEFINE_string(f"{modality}_recipe", getattr(d, f"{modality}_recipe"),
                            f"Raw media: {modality} featurization recipe ({_recipe_help(modality)}).", **kw)
    flags.DEFINE_integer("featurize_workers", d.featurize_workers, "Raw media: parallel featurizing processes.",
                         lower_bound=1, **kw)
    flags.DEFINE_list("emotions", list(d.emotions),
                      "RAVDESS: emotions to keep (of neutral,calm,happy,sad,angry,fearful,disgust,surprised); "
                      "empty: all 8.", **kw)
    flags.DEFINE_enum("vocal_channel", d.vocal_channel, ("speech", "song"), "RAVDESS: speech or song clips.", **kw)
    flags.DEFINE_enum("meld_labels", d.meld_labels, ("emotion", "sentiment", "joint"),
                      "MELD: 7 emotions, 3 sentiments, or the 8 emotion x sentiment pairs of seed 000.", **kw)
    flags.DEFINE_enum("iemocap_protocol", d.iemocap_protocol, ("4class", "6class", "dimensional"),
                      "IEMOCAP: 4class (neutral, happy+excited, sad, angry), 6class (+excited, frustrated) or "
                      "dimensional (every turn; -lt dimensional regresses valence/activation/dominance).", **kw)
    flags.DEFINE_enum("iemocap_dialogs", d.iemocap_dialogs, ("all", "improvised", "scripted"),
                      "IEMOCAP: which dialogs to keep.", **kw)
    flags.DEFINE_enum("sentiment_scheme", d.sentiment_scheme, ("mosi", "sims"),
                      "-lt sentiment: mosi (MMSA's MOSI/MOSEI metrics, [-3, 3]) or sims (MMSA's CH-SIMS "
                      "metrics, [-1, 1]: acc_2/acc_3/acc_5 with its bins).", **kw)
    flags.DEFINE_integer("fold", d.fold, "RAVDESS/videos: test fold K (fold K+1 validates; folds by speaker).",
                         lower_bound=0, **kw)
    flags.DEFINE_integer("num_folds", d.num_folds, "RAVDESS/videos: number of speaker-independent folds.",
                         lower_bound=3, **kw)
    flags.DEFINE_list("recipe_options", list(d.recipe_options),
                      "Raw media: other recipe fields as key=value, e.g. fps=5,face_crop=false,hub_frame_hop=0.96,"
                      "hub_output_key=1,text_output_key=sequence_output,image_size=224.", **kw)
    flags.DEFINE_list("finetune", list(d.finetune),
                      "Raw media: vision=kh:<preset>:<N> fine-tunes that KerasHub image backbone inside the model "
                      "(its top N blocks; ResNet, ViT) on cached face crops, audio=kh:<preset>:<N> a Whisper "
                      "encoder on cached log-mels, each followed by a transformer over time; the other modalities "
                      "keep their features.", **kw)
    flags.DEFINE_string("split_dir", d.split_dir,
                        "Raw media: a split definition folder, train.txt, val.txt and test.txt listing clips "
                        "(seed 002's folds/<corpus>/split-K: 'Class/clip,class_id,transcript' lines) and "
                        "optionally class_id.yaml; replaces the corpus's own split.", **kw)
    flags.DEFINE_boolean("use_other_class", d.use_other_class,
                         "C-EXPR-DB: keep the 8th class, Other (default: the 7 compound classes).", **kw)
    # corpora labelled per frame (seed 002)
    flags.DEFINE_integer("window_length", d.window_length,
                         "Frame-labelled corpora: steps per training window (videos are cut into windows).",
                         lower_bound=1, **kw)
    flags.DEFINE_integer("hop_length", d.hop_length,
                         "Frame-labelled corpora: steps between two window starts (overlaps are averaged at "
                         "evaluation).", lower_bound=1, **kw)
    flags.DEFINE_enum("video_score", d.video_score, ("frames_avg_logits", "frames_vote"),
                      "Frame-labelled corpora: a video's prediction is the activation of its frames' mean "
                      "logits, or the class most frames predict.", **kw)
    # model
    flags.DEFINE_string("model_name", d.model_name, "Model to train (see --helpfull for the list).",
                        short_name="mn", **kw)
    flags.DEFINE_integer("num_layers", d.num_layers, "Number of (bidirectional) recurrent layers, 1 to 3.",
                         lower_bound=1, upper_bound=3, short_name="l", **kw)
    flags.DEFINE_integer("num_nodes", d.num_nodes, "Units of the penultimate dense layer.", lower_bound=1,
                         short_name="n", **kw)
    flags.DEFINE_float("dropout_rate", d.dropout_rate, "Dropout rate.", lower_bound=0.0, upper_bound=0.95,
                       short_name="d", **kw)
    flags.DEFINE_string("final_activ", d.final_activ,
                        "Activation of the final layer (default: linear for -lt all/coarse, sigmoid for "
                        "present/dominant).", short_name="a", **kw)
    # training
    flags.DEFINE_integer("batch_size", d.batch_size, "Batch size.", lower_bound=1, short_name="b", **kw)
    flags.DEFINE_integer("num_epochs", d.num_epochs, "Maximum number of epochs.", lower_bound=1, short_name="e", **kw)
    flags.DEFINE_integer("patience", d.patience, "Epochs without improvement before stopping.", lower_bound=0,
                         short_name="p", **kw)
    flags.DEFINE_float("learning_rate", d.learning_rate, "Learning rate.", lower_bound=0.0, short_name="lr", **kw)
    flags.DEFINE_string("loss_function", d.loss_function,
                        "Keras loss name; a typed one is always used. Default: mean_absolute_error for scores, "
                        "binary_crossentropy for -lt present/dominant, categorical_crossentropy for classes.",
                        short_name="lf", **kw)
    flags.DEFINE_enum("optimizer", d.optimizer, OPTIMIZERS, "Optimiser.", short_name="opt", **kw)
    flags.DEFINE_enum("val_metric", d.val_metric, VAL_METRICS, "Validation metric to monitor.", short_name="v", **kw)
    from mmer_tf import tasks

    flags.DEFINE_enum("label_type", d.label_type, tasks.label_types(),
                      "Task and training target. " + "; ".join(task.summary for task in tasks.tasks()) + ".",
                      short_name="lt", **kw)
    flags.DEFINE_boolean("predict_neutral_class", d.predict_neutral_class,
                         "Add a 7th, neutral class (every emotion absent).", short_name="nc", **kw)
    flags.DEFINE_list("threshold_emo_present", [str(t) for t in d.threshold_emo_present],
                      "Presence thresholds, comma- or space-separated (-tp 0,0.5,1 or the original's -tp 0 0.5 1): 0 means score > 0, t > 0 means score >= t. One "
                      "presence row per threshold.", short_name="tp", **kw)
    flags.DEFINE_boolean("mixed_precision", d.mixed_precision, "Train with the mixed_float16 policy.", **kw)
    flags.DEFINE_boolean("jit_compile", d.jit_compile, "Compile the train step with XLA.", **kw)
    flags.DEFINE_integer("seed", d.seed, "Random seed (weights, shuffling), 0 to 2**32-1.", lower_bound=0,
                         upper_bound=SEED_MAX, **kw)
    _define_recipe_flags(FLAGS)
    # distribution: see mmer_tf/distributed.py and the README's "Beyond one process"
    flags.DEFINE_enum("distribution", d.distribution, ("none", "mirrored", "data_parallel"),
                      "none: one device; mirrored: every local GPU, one process (TensorFlow "
                      "MirroredStrategy); data_parallel: Keras DataParallel on JAX, one process per GPU or "
                      "node (process list from SLURM or --coordinator/--num_processes/--process_id). -b is "
                      "the global batch.", **kw)
    flags.DEFINE_string("coordinator", d.coordinator,
                        "data_parallel: HOST:PORT of process 0 (default: first host of SLURM_JOB_NODELIST).", **kw)
    flags.DEFINE_integer("num_processes", d.num_processes,
                         "data_parallel: number of processes (0: SLURM_NTASKS, else 1).", lower_bound=0, **kw)
    flags.DEFINE_integer("process_id", d.process_id,
                         "data_parallel: this process's rank (-1: SLURM_PROCID, else 0).", lower_bound=-1, **kw)
    # outputs
    flags.DEFINE_string("model_folder", d.model_folder, "Where models and tables go.", short_name="mf", **kw)
    flags.DEFINE_string("csv_folder", d.csv_folder, "Sub-folder of the model folder for the CSV tables.",
                        short_name="cf", **kw)
    flags.DEFINE_string("csv_name", d.csv_name, "Prefix of the CSV table names (empty: the seed's names).",
                        short_name="cn", **kw)
    flags.DEFINE_integer("round_decimals", d.round_decimals, "Decimals of the metrics.", lower_bound=0,
                         short_name="rd", **kw)
    flags.DEFINE_boolean("save_predictions", d.save_predictions, "Save test predictions and truth (.npz).",
                         short_name="sp", **kw)
    flags.DEFINE_boolean("save_confusion_matrix", d.save_confusion_matrix,
                         "Save multilabel confusion matrices (.npz and .png).", short_name="scm", **kw)
    flags.DEFINE_boolean("display_fig", d.display_fig, "Show figures on screen as well as saving them.", **kw)
    flags.DEFINE_boolean("tensorboard", d.tensorboard,
                         "Write TensorBoard event files under <mf>/<mn>/tensorboard/<params>_run<id>/: per-epoch "
                         "train/validation scalars and learning rate, and the HParams summary (every parameter, "
                         "the test metrics). View with: tensorboard --logdir models/", **kw)
    flags.DEFINE_integer("verbose", d.verbose, "0: quiet, 1: progress, 2: per-batch Keras logs.", **kw)
    _define_model_hparam_flags(FLAGS)


def _define_recipe_flags(FLAGS) -> None:
    """Seeds 002/003/000's training recipe: optimiser options, schedules, augmentation, staged fusion, triplet."""
    from absl import flags

    from mmer_tf.optim import LR_SCHEDULES

    d = _DEFAULTS
    kw = {"flag_values": FLAGS}
    flags.DEFINE_float("momentum", d.momentum, "-opt sgd (and rmsprop): momentum.", lower_bound=0.0, **kw)
    flags.DEFINE_boolean("nesterov", d.nesterov, "-opt sgd: Nesterov momentum.", **kw)
    flags.DEFINE_float("weight_decay", d.weight_decay,
                       "Decoupled weight decay for any -opt (-opt adam with it is AdamW; Ranger's own rule).",
                       lower_bound=0.0, **kw)
    flags.DEFINE_enum("lr_schedule", d.lr_schedule, LR_SCHEDULES,
                      "Learning rate by epoch: constant, step (x --lr_gamma every --lr_step epochs), cosine "
                      "annealing over -e, or plateau (x --lr_gamma after --lr_patience epochs without -v "
                      "improvement).", **kw)
    flags.DEFINE_integer("lr_step", d.lr_step, "--lr_schedule step: epochs between reductions.", lower_bound=1, **kw)
    flags.DEFINE_float("lr_gamma", d.lr_gamma, "--lr_schedule step/plateau: reduction factor.", **kw)
    flags.DEFINE_integer("lr_patience", d.lr_patience, "--lr_schedule plateau: patience in epochs.",
                         lower_bound=0, **kw)
    flags.DEFINE_integer("warmup_epochs", d.warmup_epochs, "Linear learning-rate warmup over this many epochs.",
                         lower_bound=0, **kw)
    flags.DEFINE_integer("min_num_epochs", d.min_num_epochs,
                         "Early stopping may not stop before this many epochs.", lower_bound=0, **kw)
    flags.DEFINE_float("label_smoothing", d.label_smoothing,
                       "Label smoothing of the cross-entropy loss (Keras' definition).", lower_bound=0.0,
                       upper_bound=1.0, **kw)
    flags.DEFINE_float("mixup_alpha", d.mixup_alpha,
                       "Mixup of training batches (inputs, masks and targets), lambda ~ Beta(alpha, alpha); 0: off.",
                       lower_bound=0.0, **kw)
    flags.DEFINE_float("mixup_prob", d.mixup_prob, "Share of training batches mixed when --mixup_alpha > 0.",
                       lower_bound=0.0, upper_bound=1.0, **kw)
    flags.DEFINE_integer("time_mask", d.time_mask,
                         "SpecAugment time masking in training: widest span of steps zeroed; 0: off.",
                         lower_bound=0, **kw)
    flags.DEFINE_integer("feature_mask", d.feature_mask,
                         "SpecAugment feature masking in training: widest band of features zeroed; 0: off.",
                         lower_bound=0, **kw)
    flags.DEFINE_integer("num_masks", d.num_masks, "Time and feature masks of each kind per sequence.",
                         lower_bound=1, **kw)
    flags.DEFINE_list("mask_modalities", list(d.mask_modalities),
                      "Modalities --time_mask/--feature_mask apply to (empty: all of the run's).", **kw)
    flags.DEFINE_enum("class_weight", d.class_weight, ("none", "balanced"),
                      "-lt category: weight each training segment's loss by n / (K * n_class).", **kw)
    flags.DEFINE_list("init_from", list(d.init_from),
                      "Staged fusion: modality=RUN.keras entries; each modality's branch starts from that "
                      "(unimodal) run's weights.", **kw)
    flags.DEFINE_integer("freeze_branches", d.freeze_branches,
                         "Staged fusion: keep the --init_from branches frozen for the first N epochs.",
                         lower_bound=0, **kw)
    flags.DEFINE_list("aux_loss", list(d.aux_loss),
                      "modality=weight entries: an auxiliary head on each modality's branch, its loss weighted "
                      "into the total (seed 003's --speech_coeff/--face_coeff).", **kw)
    flags.DEFINE_string("triplet_margin", d.triplet_margin,
                        "M2FNet's triplet loss on the fused embedding (batch-hard, -lt category): 'adaptive' or a "
                        "fixed margin; empty: off.", **kw)
    flags.DEFINE_float("triplet_weight", d.triplet_weight, "Weight of the triplet loss in the total.",
                       lower_bound=0.0, **kw)


def _hparam_flag_name(model: str, name: str) -> str:
    return f"{model}_{name}"


def _define_model_hparam_flags(FLAGS) -> None:
    from absl import flags

    from mmer_tf.models import registry

    for model, spec in registry.available().items():
        for name, hp in spec.hparams.items():
            flag = _hparam_flag_name(model, name)
            text = f"[{model}] {hp.help}"
            if isinstance(hp.default, bool):
                flags.DEFINE_boolean(flag, hp.default, text, flag_values=FLAGS)
            elif isinstance(hp.default, int):
                flags.DEFINE_integer(flag, hp.default, text, flag_values=FLAGS)
            elif isinstance(hp.default, float):
                flags.DEFINE_float(flag, hp.default, text, flag_values=FLAGS)
            else:
                flags.DEFINE_string(flag, str(hp.default), text, flag_values=FLAGS)
            if hp.alias:  # the seed's name for the same flag (e.g. --tcn_kernel_size for --lfan_tcn_kernel_size)
                flags.DEFINE_alias(hp.alias, flag, flag_values=FLAGS)


def _parse_thresholds(values) -> tuple[float, ...]:
    try:
        thresholds = tuple(float(v) for v in values)
    except ValueError:
        raise MmerError(f"-tp/--threshold_emo_present: {','.join(values)!r} is not a list of numbers") from None
    if not thresholds or not all(0 <= t <= 3 for t in thresholds):  # NaN fails this, not "t < 0 or t > 3"
        raise MmerError("-tp/--threshold_emo_present: thresholds must lie in [0, 3]")
    return thresholds


def _check_folder_flag(value: str | None, flag: str) -> None:
    """A folder flag must not be empty nor name an existing non-folder (the run would die half-way)."""
    if value is None:
        return
    if not str(value).strip():
        raise MmerError(f"{flag}: empty path")
    if os.path.exists(value) and not os.path.isdir(value):
        raise MmerError(f"{flag} {value}: is a file, not a folder")


def _check_run_flags(FLAGS) -> None:
    """Every check that needs no data nor Keras, so a typo costs no loading, no training and no run id."""
    from mmer_tf import results

    if FLAGS["loss_function"].present and not FLAGS.loss_function.strip():
        raise MmerError("-lf/--loss_function: empty; leave the flag out for the task's default loss")
    if not FLAGS.learning_rate > 0:
        raise MmerError(f"-lr/--learning_rate must be > 0, got {FLAGS.learning_rate:g}")
    if not 0 <= FLAGS.seed <= SEED_MAX:
        raise MmerError(f"--seed must be in [0, {SEED_MAX}], got {FLAGS.seed}")
    results.check_name(FLAGS.csv_name, "-cn/--csv_name", allow_empty=True)
    results.check_name(FLAGS.model_name, "-mn/--model_name")
    if not FLAGS.csv_folder.strip():
        raise MmerError("-cf/--csv_folder: must not be empty")
    _check_folder_flag(FLAGS.pickle_folder, "-pf/--pickle_folder")
    _check_folder_flag(FLAGS.model_folder, "-mf/--model_folder")
    csv_dir = os.path.join(FLAGS.model_folder, FLAGS.model_name, FLAGS.csv_folder)
    if os.path.exists(csv_dir) and not os.path.isdir(csv_dir):
        raise MmerError(f"-cf/--csv_folder {csv_dir}: is a file, not a folder")


def _check_finite(FLAGS) -> None:
    """No number flag may be NaN or infinite: absl's bounds compare false for NaN, so ``-d nan`` passes them."""
    import math

    for name in sorted(FLAGS):
        value = FLAGS[name].value
        if isinstance(value, float) and not math.isfinite(value):
            flag = FLAGS[name]
            spelled = f"-{flag.short_name}/--{flag.name}" if flag.short_name else f"--{flag.name}"
            raise MmerError(f"{spelled}: must be a finite number, got {value}")


def config_from_flags(FLAGS) -> ExperimentConfig:
    """Validate flag values that absl cannot, and freeze them into a config (imports Keras)."""
    config = parse_config(FLAGS)
    check_backend_options(config)
    return config


def parse_config(FLAGS) -> ExperimentConfig:
    """Every check that Keras is not needed for, and the config: ``main.py`` runs this before it imports
    the backend, so a typo costs well under a second; :func:`check_backend_options` does the rest."""
    from mmer_tf.models import registry

    spec = registry.get(FLAGS.model_name)  # one-line error for an unknown model
    modalities = tuple(m.strip() for m in FLAGS.modalities if m.strip())
    unknown = [m for m in modalities if m not in MODALITIES]
    if not modalities or unknown or len(set(modalities)) != len(modalities):
        raise MmerError(f"--modalities: {','.join(FLAGS.modalities)!r} must be distinct names among "
                        f"{','.join(MODALITIES)}")
    if FLAGS.dataset_folder is not None and not FLAGS.dataset_folder.strip():
        raise MmerError("-df/--dataset_folder: empty path")
    _check_run_flags(FLAGS)
    _check_finite(FLAGS)
    hparams = {name: FLAGS[_hparam_flag_name(spec.name, name)].value for name in spec.hparams}
    registry.validate(spec.name, hparams)  # one line naming the flag, before any data is read
    values = {}
    for field in dataclasses.fields(ExperimentConfig):
        if field.name in FLAGS and field.name not in ("modalities", "threshold_emo_present"):
            values[field.name] = FLAGS[field.name].value
    if not FLAGS["final_activ"].present:
        # The default head follows the task: linear for scores, sigmoid per class, softmax over classes.
        from mmer_tf import tasks

        probe = ExperimentConfig(label_type=FLAGS.label_type)
        values["final_activ"] = tasks.for_label_type(FLAGS.label_type).default_activation(probe)
    values.update(
        modalities=tuple(m for m in MODALITIES if m in modalities),
        threshold_emo_present=_parse_thresholds(FLAGS.threshold_emo_present),
        model_hparams=hparams,
        from_data=tuple(name for name in ("label_type", "final_activ", "modalities") if not FLAGS[name].present),
        # feature folders
        modality_map=tuple(m.strip() for m in FLAGS.modality_map if m.strip()),
        missing_modality=FLAGS.missing,
        # raw media corpora
        emotions=tuple(e.strip() for e in FLAGS.emotions if e.strip()),
        recipe_options=tuple(o.strip() for o in FLAGS.recipe_options if o.strip()),
        finetune=tuple(o.strip() for o in FLAGS.finetune if o.strip()),
        # training recipe (mmer_tf/optim, augment, staged)
        mask_modalities=tuple(m.strip() for m in FLAGS.mask_modalities if m.strip()),
        init_from=tuple(e.strip() for e in FLAGS.init_from if e.strip()),
        aux_loss=tuple(e.strip() for e in FLAGS.aux_loss if e.strip()),
    )
    config = ExperimentConfig(**values)
    if config.loss_function:
        check_loss_name(config.loss_function)
    check_activation_name(config.final_activ)
    from mmer_tf import staged
    from mmer_tf.augment.dataset import check_config as check_augmentation
    from mmer_tf.optim import check_optimizer, check_schedule

    check_optimizer(config)
    check_schedule(config)
    check_augmentation(config)
    staged.check_flags(config)
    from mmer_tf import distributed

    distributed.check_flags(config)
    from mmer_tf import finetune

    finetune.check_config(config)
    return config


def check_backend_options(config: ExperimentConfig) -> None:
    """The checks that ask Keras: the backend --freeze_branches needs (still before any data is read)."""
    from mmer_tf import staged

    staged.check_config(config)
