"""The single source of every run parameter.

``main.py`` turns flags into one frozen :class:`ExperimentConfig`; everything else reads it. The
parameter columns of ``model_ids.csv`` are derived from its fields (:func:`parameter_columns`), so a new
option is one field here plus one flag, and it shows up in the tables by itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

OPTIMIZERS = ("adam", "sgd", "adagrad", "adadelta", "rmsprop", "ranger")
IMAGE_FEATURES = ("facet", "openface")
VAL_METRICS = ("loss", "acc")


@dataclass(frozen=True)
class ExperimentConfig:
    # data
    dataset_folder: str | None = None  # None -> built-in CMU-MOSEI-shaped sample
    corpus: str | None = None  # None -> detected from the -df layout (mmer_tf.data.corpora)
    pickle_name_dataset: str = "cmu_mosei"
    pickle_name_fold: str = "cmu_mosei_folds"
    pickle_folder: str = "pickle_files"
    align_to_text: bool = True
    append_label_to_data: bool = True
    with_custom_split: bool = False
    custom_split: str = "original"  # with -c: the original suite's split exactly, or "corrected" (data/folds.py)
    image_feature: str = "facet"
    fixed_num_steps: int = 0
    normalization: str = "train"  # "segment" (the seed's per-segment z-score), "train", "none"
    modalities: tuple[str, ...] = ("text", "audio", "vision")
    sample_videos: int = 240  # size of the built-in sample
    # feature folders (mmer_tf.data.corpora.feature_folder)
    modality_map: tuple[str, ...] = ()  # "folder=modality" entries, e.g. ("speech=audio", "face=vision")
    missing_modality: str = "drop"  # a segment lacking a modality's file: "drop", "impute" (one zero step), "error"
    # raw media corpora (mmer_tf.data.corpora.ravdess/meld/videos; recipes: mmer_tf.features)
    audio_recipe: str = "logmel"  # featurization recipes of raw media; part of the featurized-folder key
    text_recipe: str = "offline"
    video_recipe: str = "offline"
    featurize_workers: int = 1  # parallel featurizing processes
    emotions: tuple[str, ...] = ()  # RAVDESS: subset of its 8 emotions (empty: all)
    vocal_channel: str = "speech"  # RAVDESS: speech or song
    meld_labels: str = "emotion"  # MELD: emotion (7), sentiment (3) or joint (seed 000's 8 pairs)
    iemocap_protocol: str = "4class"  # IEMOCAP: 4class (excited merged into happy) or 6class
    iemocap_dialogs: str = "all"  # IEMOCAP: all, improvised or scripted dialogs
    sentiment_scheme: str = "mosi"  # -lt sentiment: mosi ([-3, 3], MMSA's MOSI metrics) or sims (CH-SIMS)
    fold: int = 0  # RAVDESS/videos: test fold (its next fold validates); speaker-independent blocks
    num_folds: int = 6  # RAVDESS/videos: number of folds (RAVDESS: 6 blocks of 4 actors)
    recipe_options: tuple[str, ...] = ()  # raw media: other Recipe fields as "key=value" (fps=5, hub_frame_hop=0.96)
    finetune: tuple[str, ...] = ()  # raw media: "vision=kh:<preset>:<N>": that encoder trained inside the model
    split_dir: str = ""  # raw media: a split definition folder (train.txt, val.txt, test.txt[, class_id.yaml])
    use_other_class: bool = False  # C-EXPR-DB: keep the 8th class, Other
    # corpora labelled per frame (mmer_tf.frame_level, mmer_tf.data.windows): seed 002
    window_length: int = 300  # steps per training window
    hop_length: int = 200  # steps between two window starts
    video_score: str = "frames_avg_logits"  # a video's prediction from its frames: or "frames_vote"
    # model
    model_name: str = "ef_williams"
    num_layers: int = 1
    num_nodes: int = 100
    dropout_rate: float = 0.2
    final_activ: str = "linear"
    model_hparams: Mapping[str, object] = field(default_factory=dict)
    # training
    batch_size: int = 32
    num_epochs: int = 20
    patience: int = 5
    learning_rate: float = 1e-3
    # "" -> the task's default (mean_absolute_error for scores, binary_crossentropy for -lt present/dominant,
    # categorical_crossentropy for classes); a typed -lf is honoured whatever the task (mmer_tf.train.resolve_loss)
    loss_function: str = ""
    optimizer: str = "adam"
    val_metric: str = "loss"
    label_type: str = "all"
    # fields the user left to the data (label_type, final_activ, modalities): mmer_tf.corpus_defaults
    from_data: tuple[str, ...] = ()
    predict_neutral_class: bool = False
    threshold_emo_present: tuple[float, ...] = (0.0,)
    mixed_precision: bool = False
    jit_compile: bool = False
    seed: int = 42  # in [0, 2**32 - 1] (NumPy's seed range)
    # optimisation recipe (mmer_tf/optim/): seeds 002 and 003
    momentum: float = 0.0  # -opt sgd (and rmsprop)
    nesterov: bool = False  # -opt sgd
    weight_decay: float = 0.0  # decoupled (Keras): -opt adam + this = AdamW
    lr_schedule: str = "none"  # none, step, cosine, plateau (mmer_tf.optim.schedules)
    lr_step: int = 50  # step: epochs between two reductions
    lr_gamma: float = 0.9  # step/plateau: factor of each reduction
    lr_patience: int = 10  # plateau: epochs without improvement before a reduction
    warmup_epochs: int = 0  # linear warmup to -lr over this many epochs
    min_num_epochs: int = 0  # early stopping may not stop before this many epochs
    # training-time augmentation and targets (mmer_tf/augment/): seed 003
    label_smoothing: float = 0.0  # Keras' definition, for cross-entropy losses
    mixup_alpha: float = 0.0  # > 0 turns mixup on: lambda ~ Beta(alpha, alpha) per batch
    mixup_prob: float = 1.0  # share of training batches mixed
    time_mask: int = 0  # SpecAugment: widest time span zeroed (steps); 0: off
    feature_mask: int = 0  # SpecAugment: widest feature band zeroed; 0: off
    num_masks: int = 1  # spans of each kind per sequence
    mask_modalities: tuple[str, ...] = ()  # modalities masked (empty: every modality of the run)
    class_weight: str = "none"  # "balanced": loss weights n / (K * n_k) for -lt category
    # staged fusion and extra losses (mmer_tf/staged/): seeds 003 and 000
    init_from: tuple[str, ...] = ()  # "modality=RUN.keras": branch weights from unimodal runs
    freeze_branches: int = 0  # epochs during which the --init_from branches are frozen
    aux_loss: tuple[str, ...] = ()  # "modality=weight": per-modality auxiliary heads weighted into the loss
    triplet_margin: str = ""  # "adaptive" or a number: M2FNet's triplet loss on the fused embedding; "": off
    triplet_weight: float = 1.0  # weight of the triplet loss in the total
    # distribution (mmer_tf/distributed.py): how the run is spread over devices and processes
    distribution: str = "none"  # "none", "mirrored" (TF, local GPUs), "data_parallel" (JAX, processes)
    coordinator: str = ""  # HOST:PORT of process 0 for data_parallel ("" -> from SLURM's environment)
    num_processes: int = 0  # 0 -> from SLURM's environment (1 without SLURM)
    process_id: int = -1  # -1 -> from SLURM's environment (0 without SLURM)
    # outputs
    model_folder: str = "models"
    csv_folder: str = "csv"
    csv_name: str = ""
    round_decimals: int = 3
    save_predictions: bool = False
    save_confusion_matrix: bool = False
    display_fig: bool = False
    tensorboard: bool = False  # event files for TensorBoard under <mf>/<mn>/tensorboard/ (mmer_tf/callbacks)
    verbose: int = 1

    def replace(self, **changes) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)

    @property
    def param_name(self) -> str:
        """The seed's artefact suffix: ``l_{layers}_n_{nodes}_d_{dropout}_b_{batch}_s_{steps}``."""
        return (
            f"l_{self.num_layers}_n_{self.num_nodes}_d_{self.dropout_rate}"
            f"_b_{self.batch_size}_s_{self.fixed_num_steps}"
        )


# Fields that describe where things go or how chatty a run is, not what was run.
_NON_PARAMETERS = {"model_folder", "csv_folder", "csv_name", "display_fig", "verbose", "pickle_folder"}
# distribution: where the processes run is not what was run (the global batch is -b either way).
_NON_PARAMETERS |= {"coordinator", "num_processes", "process_id"}
# --tensorboard only adds event files: the same run with or without it is the same run.
_NON_PARAMETERS |= {"tensorboard"}
# which fields the data chose is not what was run: the chosen values are recorded in their own columns.
_NON_PARAMETERS |= {"from_data"}


def parameter_columns(config: ExperimentConfig) -> dict[str, object]:
    """Flat ``{column: value}`` of every run parameter, for ``model_ids.csv``.

    Tuples become comma-joined strings, model hyper-parameters become ``hp_<name>`` columns, and the
    dataset folder is recorded as ``builtin-sample`` when none was given.
    """
    columns: dict[str, object] = {}
    for f in dataclasses.fields(config):
        if f.name in _NON_PARAMETERS:
            continue
        value = getattr(config, f.name)
        if f.name == "model_hparams":
            for key in sorted(value):
                columns[f"hp_{key}"] = value[key]
            continue
        if f.name == "dataset_folder" and value is None:
            value = "builtin-sample"
        if isinstance(value, tuple):
            value = ",".join(str(v) for v in value)
        columns[f.name] = value
    # distribution: the digest keys resume folders and lets a re-submitted sweep skip recorded runs.
    columns["config_digest"] = config_digest(columns)
    return columns


def config_digest(columns: Mapping[str, object]) -> str:
    """16 hex digits of SHA-256 over the parameter columns (seed included), independent of their order.

    Two runs share a digest exactly when every parameter column (hence the seed) is equal; it names the
    run's resume folder and tells ``python -m mmer_tf sweep`` which sweep lines already have a row.
    """
    import hashlib
    import json

    payload = {k: v for k, v in columns.items() if k != "config_digest"}
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
