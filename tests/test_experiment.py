"""End-to-end runs of ``experiment.run`` on the built-in sample: learning, determinism, outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmer_tf import experiment
from mmer_tf.data.segments import EMOTIONS


def _row(result, family, threshold=None):
    rows = result.families[family]
    if threshold is not None:
        rows = [r for r in rows if float(r["threshold"]) == threshold]
    return rows[0]


def _baseline(result, family):
    return result.baseline[family][0]


@pytest.mark.slow
def test_default_model_clearly_beats_the_mean_and_majority_baselines(run_config):
    result = experiment.run(run_config(num_epochs=12, patience=4))
    reg, base_reg = _row(result, "regression"), _baseline(result, "regression")
    dom, base_dom = _row(result, "classification_dominant"), _baseline(result, "classification_dominant")
    assert reg["mae"] < 0.8 * base_reg["mae"]
    assert reg["r2"] > 0.15
    assert dom["f1_macro"] > base_dom["f1_macro"] + 0.2
    assert dom["acc"] > base_dom["acc"] + 0.1
    assert dom["roc_auc_macro"] > 0.6


def _metric_tables(csv_dir):
    return {p.name: pd.read_csv(p) for p in sorted(csv_dir.glob("*.csv"))}


@pytest.mark.slow
def test_same_seed_gives_the_same_table_rows(run_config, tmp_path):
    first = experiment.run(run_config(num_epochs=2, seed=7))
    second = experiment.run(run_config(num_epochs=2, seed=7))
    assert (first.run_id, second.run_id) == (1, 2)
    tables = _metric_tables(first.paths.csv_dir)
    for name, table in tables.items():
        assert len(table) == 2, name
        varying = {"run_id", "started", "finished", "wall_time_s", "model_file", "host", "job"}
        left = table.iloc[0].drop(labels=[c for c in table.columns if c in varying])
        right = table.iloc[1].drop(labels=[c for c in table.columns if c in varying])
        pd.testing.assert_series_equal(left, right, check_names=False, obj=name)


@pytest.mark.slow
def test_tables_have_the_seed_column_names(run_config):
    result = experiment.run(run_config(num_epochs=1, threshold_emo_present=(0.0, 1.0), predict_neutral_class=True))
    tables = _metric_tables(result.paths.csv_dir)
    assert set(tables) == {"model_ids.csv", "regression.csv", "classification_score_coarse.csv",
                           "classification_presence.csv", "classification_dominant.csv"}
    ids = tables["model_ids.csv"]
    for column in ("run_id", "dataset", "model_name", "num_layers", "batch_size", "modalities", "started",
                   "finished", "wall_time_s", "seed", "label_type"):
        assert column in ids.columns, column
    assert ids.loc[0, "dataset"] == "builtin-sample"
    assert {"mae", "mse", "r2", "mse_happy", "mae_fear", "r2_sad"} <= set(tables["regression.csv"].columns)
    presence = tables["classification_presence.csv"]
    assert sorted(presence["threshold"]) == [0.0, 1.0]
    assert {"acc", "f1_macro", "rec_weighted", "prec_macro", "f1_neutral"} <= set(presence.columns)
    assert {f"wa_{e}" for e in EMOTIONS} <= set(presence.columns)
    dominant = tables["classification_dominant.csv"]
    assert {"roc_auc_fear", "roc_auc_macro", "f1_weighted", "rec_weighted"} <= set(dominant.columns)
    for table in tables.values():
        assert (table["run_id"] == result.run_id).all()


@pytest.mark.slow
def test_probability_targets_save_predictions_and_confusion_matrices(run_config):
    result = experiment.run(run_config(num_epochs=1, label_type="dominant", predict_neutral_class=True, final_activ="sigmoid",
                                       save_predictions=True, save_confusion_matrix=True))
    assert "regression" not in result.families  # scores are not predicted for -lt dominant
    paths = result.paths
    with np.load(paths.predictions(result.run_id), allow_pickle=False) as saved:
        assert saved["predictions"].shape == (len(saved["ids"]), 7)
        assert saved["true_labels"].shape == (len(saved["ids"]), 7)
        assert np.all((saved["predictions"] >= 0) & (saved["predictions"] <= 1))
    with np.load(paths.confusion(result.run_id), allow_pickle=False) as saved:
        assert saved["matrices"].shape == (7, 2, 2)
        assert saved["matrices"].sum(axis=(1, 2)).tolist() == [result.info["counts"]["test"]] * 7
    assert paths.confusion_plot(result.run_id).stat().st_size > 0
    assert paths.history_plot(result.run_id).stat().st_size > 0
    assert paths.best_model(result.run_id).exists()


@pytest.mark.slow
def test_unaligned_view_is_refused_for_an_early_fusion_model(run_config):
    from mmer_tf.errors import MmerError

    with pytest.raises(MmerError, match="word-aligned"):
        experiment.run(run_config(num_epochs=1, align_to_text=False))


def _mosi_folder(tmp_path):
    """A tiny CMU-MOSI folder (SDK file names, real MOSI fold ids, sentiment-only labels)."""
    from sdk_support import defective_dataset

    from mmer_tf.formats.csd import write_csd
    from mmer_tf.data.folds import standard_folds

    dataset = defective_dataset(1, n_videos=6)
    folds = standard_folds("mosi")
    real_ids = folds["train"][:2] + folds["valid"][:2] + folds["test"][:2]
    rename = dict(zip(sorted(dataset["All Labels"]), real_ids))
    files = {"glove_vectors": ("CMU_MOSI_TimestampedWordVectors.csd", "glove_vectors"),
             "COVAREP": ("CMU_MOSI_COVAREP.csd", "COVAREP"),
             "FACET 4.2": ("CMU_MOSI_Visual_Facet_42.csd", "FACET_4.2"),
             "All Labels": ("CMU_MOSI_Opinion_Labels.csd", "Opinion Segment Labels")}
    corpus = tmp_path / "mosi"
    corpus.mkdir()
    for name, (file, root) in files.items():
        entries = {rename[v]: dict(e) for v, e in dataset[name].items() if v in rename}
        if name == "All Labels":
            for entry in entries.values():
                entry["features"] = np.clip(entry["features"][:, :1], -1.5, 1.5) * 2.0  # sentiment only, in [-3, 3]
        write_csd(corpus / file, root, entries)
    return corpus


@pytest.mark.slow
def test_a_sentiment_only_corpus_refuses_emotion_tasks_before_any_work(tmp_path):
    """CMU-MOSI has no emotion labels: -lt all is one line naming corpus and task, and nothing is read or written."""
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.errors import MmerError

    corpus = _mosi_folder(tmp_path)
    config = ExperimentConfig(dataset_folder=str(corpus), pickle_folder=str(tmp_path / "cache"),
                              model_folder=str(tmp_path / "models"), num_epochs=1, verbose=0)
    with pytest.raises(MmerError, match=r"corpus mosi has no labels for task emotions \(-lt all\).*-lt sentiment"):
        experiment.run(config)
    assert not (tmp_path / "models").exists() and not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_cmu_mosi_trains_the_sentiment_task_into_the_mmsa_table(tmp_path, capsys):
    import pandas as pd

    from mmer_tf.config import ExperimentConfig
    from mmer_tf.metrics.sentiment import COLUMNS

    corpus = _mosi_folder(tmp_path)
    config = ExperimentConfig(dataset_folder=str(corpus), pickle_folder=str(tmp_path / "cache"),
                              model_folder=str(tmp_path / "models"), num_epochs=1, verbose=0,
                              label_type="sentiment", model_name="lf_dnn", csv_name="mosi")
    result = experiment.run(config)
    table = pd.read_csv(result.paths.table("sentiment"))
    assert len(table) == 1 and set(COLUMNS) <= set(table.columns) and "test_loss" in table.columns
    ids = pd.read_csv(result.paths.model_ids)
    assert ids.loc[0, "corpus"] == "mosi" and ids.loc[0, "task"] == "sentiment"
    assert result.paths.table("sentiment").name == "mosi_sentiment.csv"
    # the new tables rank like the old ones
    from mmer_tf.cli import compare

    assert compare.main([str(tmp_path / "models"), "--table", "sentiment"]) == 0
    assert "lf_dnn" in capsys.readouterr().out
