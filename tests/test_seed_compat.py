"""docs/SEED_COMPAT.md stays true: the original suite's flags, label rules, model and table columns
against ours, and every test the document names exists.

The original's rules are restated here as small oracles from its source (helenetran3/MER-experiments);
they are facts about that code, not a dependency on it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "SEED_COMPAT.md"

# The original's main.py: (short, long, argparse kind) of every argument, main.py:10-67.
ORIGINAL_FLAGS = [
    ("pnd", "pickle_name_dataset", "str"), ("pnf", "pickle_name_fold", "str"), ("t", "align_to_text", "switch"),
    ("al", "append_label_to_data", "switch"), ("f", "image_feature", "choice"), ("c", "with_custom_split", "switch"),
    ("mn", "model_name", "choice"), ("l", "num_layers", "int"), ("n", "num_nodes", "int"),
    ("d", "dropout_rate", "float"), ("a", "final_activ", "str"), ("e", "num_epochs", "int"), ("p", "patience", "int"),
    ("b", "batch_size", "int"), ("s", "fixed_num_steps", "int"), ("lt", "label_type", "choice"),
    ("opt", "optimizer", "choice"), ("lf", "loss_function", "str"), ("lr", "learning_rate", "float"),
    ("v", "val_metric", "choice"), ("nc", "predict_neutral_class", "switch"), ("tp", "threshold_emo_present", "list"),
    ("rd", "round_decimals", "int"), ("sp", "save_predictions", "switch"), ("scm", "save_confusion_matrix", "switch"),
    ("df", "display_fig", "switch"),
]
ORIGINAL_CHOICES = {
    "image_feature": ["facet", "openface"], "model_name": ["ef_williams"],
    "label_type": ["all", "coarse", "present", "dominant"],
    "optimizer": ["adam", "sgd", "adagrad", "adadelta", "rmsprop"], "val_metric": ["loss", "acc"],
}
EMOTIONS = ["happy", "sad", "anger", "surprise", "disgust", "fear"]


def _flags():
    from absl import flags

    from mmer_tf import cli_flags

    values = flags.FlagValues()
    cli_flags.define_flags(values)
    return values


def test_every_original_flag_exists_with_its_short_name():
    from absl import flags

    values = _flags()
    for short, long, kind in ORIGINAL_FLAGS:
        assert long in values, long
        flag = values[long]
        if long == "display_fig":  # row flag-df: -df is --dataset_folder, as the seed README has it
            assert flag.short_name is None and values["dataset_folder"].short_name == "df"
            continue
        assert flag.short_name == short, (long, flag.short_name)
        if kind == "switch":  # store_true: a bare --flag must switch it on
            assert isinstance(flag, flags.BooleanFlag), long


def test_original_choices_are_accepted():
    from mmer_tf.models import registry

    values = _flags()
    for name, choices in ORIGINAL_CHOICES.items():
        if name == "model_name":
            assert set(choices) <= set(registry.available())
        else:
            assert set(choices) <= set(values[name].parser.enum_values), name


def test_early_fusion_order_and_fixed_steps_rule():
    """Text, image, audio concatenation; -s N keeps the last N steps and zero-pads at the end."""
    from mmer_tf.data.pipeline import make_dataset
    from mmer_tf.data.segments import SegmentSet
    from mmer_tf.models.ef_williams import FUSION_ORDER

    assert FUSION_ORDER == ("text", "vision", "audio")
    short = np.arange(2 * 2, dtype=np.float32).reshape(2, 2) + 1
    long = np.arange(5 * 2, dtype=np.float32).reshape(5, 2) + 100
    seg = SegmentSet(ids=["a[0]", "b[0]"], features={"text": [short, long]}, labels=np.zeros((2, 7)))
    x, _ = next(iter(make_dataset(seg, np.zeros((2, 6), np.float32), batch_size=2, shuffle=False, seed=0,
                                  fixed_steps=3)))
    text = np.asarray(x["text"])
    np.testing.assert_array_equal(text[0], np.concatenate([short, np.zeros((1, 2))]))
    np.testing.assert_array_equal(text[1], long[-3:])


def _original_nearest(values, grid):
    """src/label_processing.py:29: min(grid, key=distance), the first (lower) value on a tie."""
    return np.array([min(grid, key=lambda g: abs(g - v)) for v in np.ravel(values)]).reshape(np.shape(values))


def _original_classes(scores, neutral, threshold=None, only_dominant=False):
    """src/label_processing.py:48-68 for one threshold."""
    rows = []
    for row in scores:
        top = max(row)
        if top == 0:
            on = [6] if neutral else []
        elif only_dominant:
            on = [i for i, v in enumerate(row) if v == top]
        else:
            on = [i for i, v in enumerate(row) if (v > 0 if threshold == 0 else v >= threshold)]
            on = [6] if not on and neutral else on
        rows.append(on)
    width = 7 if neutral else 6
    return np.array([[int(i in on) for i in range(width)] for on in rows])


@pytest.mark.parametrize("neutral", [False, True])
def test_label_transforms_match_the_original_rules(neutral):
    from mmer_tf.data import labels

    grid = labels.ORIGINAL_SCORES
    rng = np.random.default_rng(3)
    scores = grid[rng.integers(0, 12, size=(200, 6)) * (rng.random((200, 6)) < 0.4)]
    scores[:5] = 0  # neutral rows
    scores[5] = [1.0, 1.0, 0, 0, 0.5, 0]  # a tie at the maximum
    np.testing.assert_array_equal(labels.scores_coarse(scores), _original_nearest(scores, [0, 1, 2, 3]))
    np.testing.assert_array_equal(labels.scores_coarse(np.array([0.5, 1.5, 2.5])), [0, 1, 2])  # ties go low
    labels7 = np.concatenate([np.zeros((200, 1)), scores], axis=1)
    for threshold in (0.0, 0.5, 1.0, 0.33, 2.66):
        ours = labels.make_targets(labels7, "present", neutral=neutral, threshold=threshold)
        np.testing.assert_array_equal(ours, _original_classes(scores, neutral, threshold), err_msg=str(threshold))
    np.testing.assert_array_equal(labels.make_targets(labels7, "dominant", neutral=neutral),
                                  _original_classes(scores, neutral, only_dominant=True))


@pytest.mark.parametrize("num_layers", [1, 2])
def test_ef_williams_has_the_original_layers_and_parameter_count(num_layers):
    """src/models/ef_williams.py:42-53, rebuilt here with plain Keras layers, against our model."""
    import keras

    from mmer_tf.config import ExperimentConfig
    from mmer_tf.models import registry

    dims, steps, nodes, outputs = {"text": 7, "vision": 4, "audio": 3}, 5, 11, 6
    reference = keras.Sequential([keras.Input((steps, sum(dims.values()))), keras.layers.BatchNormalization()])
    for i in range(num_layers):
        reference.add(keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=i != num_layers - 1)))
        reference.add(keras.layers.Dropout(0.2))
    reference.add(keras.layers.Dense(nodes, activation="relu"))
    reference.add(keras.layers.Dropout(0.2))
    reference.add(keras.layers.Dense(outputs, activation="linear"))
    config = ExperimentConfig(num_layers=num_layers, num_nodes=nodes, dropout_rate=0.2, fixed_num_steps=steps)
    ours = registry.build_model(config, dims, outputs)
    assert ours.count_params() == reference.count_params()
    kinds = [type(layer).__name__ for layer in ours.layers
             if type(layer).__name__ in ("BatchNormalization", "Bidirectional", "Dropout", "Dense")]
    assert kinds == [type(layer).__name__ for layer in reference.layers]


def test_metric_columns_include_the_originals():
    """src/csv_functions.py:88-115: the original's column names for each table."""
    from mmer_tf import metrics

    rng = np.random.default_rng(0)
    labels7 = np.concatenate([np.zeros((60, 1)), rng.choice([0, 1 / 3, 1, 2], size=(60, 6))], axis=1)
    tables = metrics.evaluate(labels7, rng.uniform(0, 3, (60, 6)).astype(np.float32), label_type="all",
                              thresholds=(0.0, 1.0), neutral=True, decimals=3)
    emotions = EMOTIONS + ["neutral"]
    original = {
        "regression": ["mae", "mse", "r2"] + [f"{m}_{e}" for m in ("mae", "mse", "r2") for e in EMOTIONS],
        "classification_presence": ["acc", "f1_macro", "f1_weighted", "rec_macro", "rec_weighted", "prec_macro",
                                    "prec_weighted"] + [f"{m}_{e}" for m in ("f1", "rec", "prec") for e in emotions],
        "classification_dominant": ["acc", "f1_macro", "f1_weighted", "rec_macro", "rec_weighted", "prec_macro",
                                    "prec_weighted", "roc_auc_macro", "roc_auc_weighted"]
                                   + [f"{m}_{e}" for m in ("f1", "rec", "prec", "roc_auc") for e in emotions],
        # row out-coarse-names: overall names differ on purpose; the per-emotion ones are the original's
        "classification_score_coarse": ["acc"] + [f"{m}_{e}" for m in ("f1", "rec", "prec") for e in EMOTIONS],
    }
    for family, columns in original.items():
        missing = set(columns) - set(tables[family][0])
        assert not missing, (family, sorted(missing))


def _doc_rows():
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("id", "---"):
            rows.append(cells)
    return rows


def test_every_row_has_a_verdict_and_names_a_test_that_exists():
    rows = _doc_rows()
    assert len(rows) >= 30
    assert len({r[0] for r in rows}) == len(rows)  # ids unique
    for ident, _original, _ours, verdict, test in rows:
        assert re.match(r"^(same|fixed bug|deliberate)", verdict), (ident, verdict)
        path, _, name = test.partition("::")
        file = REPO / path
        assert file.is_file(), (ident, path)
        if name:
            defined = {node.name for node in ast.walk(ast.parse(file.read_text(encoding="utf-8")))
                       if isinstance(node, ast.FunctionDef)}
            assert name in defined, (ident, test)


def test_the_original_flags_are_all_in_the_flag_table():
    text = DOC.read_text(encoding="utf-8")
    assert "26 argparse flags" in text and len(ORIGINAL_FLAGS) == 26


def test_custom_split_flag_reaches_the_config():
    from mmer_tf import cli_flags

    values = _flags()
    values(["main.py", "-c"])
    assert cli_flags.config_from_flags(values).custom_split == "original"  # -c alone: the original's split
    values = _flags()
    values(["main.py", "-c", "--custom_split", "corrected"])
    config = cli_flags.config_from_flags(values)
    assert config.with_custom_split and config.custom_split == "corrected"
