"""CH-SIMS: MMSA's SIMS metric definitions (against a reference written from ``MetricsTop``'s SIMS
regression evaluation: masks over ``(edge_i, edge_i+1]``, sklearn accuracy and weighted F1), the MMSA
adapter keeping the unimodal ``regression_labels_A/V/T`` as label columns, and ``-lt sentiment
--sentiment_scheme sims`` reaching ``sentiment_sims.csv`` in one ``main.py`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from corpus_files import mmsa_data, write_pickle
from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import mmsa
from mmer_tf.errors import MmerError
from mmer_tf.metrics.sentiment_sims import sims_metrics

REPO = Path(__file__).resolve().parents[2]


def reference(pred, truth):
    """MMSA's __eval_sims_regression, rewritten from its definitions (float64, no torch)."""
    pred = np.clip(np.asarray(pred, np.float64), -1.0, 1.0)
    truth = np.clip(np.asarray(truth, np.float64), -1.0, 1.0)
    out = {}
    for name, edges in (("acc_2", [-1.01, 0.0, 1.01]), ("acc_3", [-1.01, -0.1, 0.1, 1.01]),
                        ("acc_5", [-1.01, -0.7, -0.1, 0.1, 0.7, 1.01])):
        p, t = pred.copy(), truth.copy()
        for i in range(len(edges) - 1):
            p[np.logical_and(pred > edges[i], pred <= edges[i + 1])] = i
            t[np.logical_and(truth > edges[i], truth <= edges[i + 1])] = i
        out[name] = np.sum(np.round(p) == np.round(t)) / float(len(t))
        if name == "acc_2":
            out["f1"] = f1_score(t, p, average="weighted")
            assert accuracy_score(p, t) == pytest.approx(out[name])
    out["mae"] = np.mean(np.abs(pred - truth))
    out["corr"] = np.corrcoef(pred, truth)[0][1]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sims_metrics_equal_mmsas_definitions(seed):
    rng = np.random.default_rng(seed)
    truth = np.round(rng.uniform(-1, 1, 200), 1)  # SIMS scores are multiples of 0.2 / 0.1
    truth[:12] = [-1.0, -0.7, -0.1, 0.0, 0.1, 0.7, 1.0, -0.8, 0.2, 0.6, -0.6, -0.2]  # on and near every edge
    pred = np.concatenate([[-0.7, -0.1, 0.1, 0.7, 0.0, 1.5, -2.0], rng.normal(0, 0.6, 193)])  # edges, outside
    ours, ref = sims_metrics(truth, pred), reference(pred, truth)
    assert set(ours) == {"acc_2", "acc_3", "acc_5", "f1", "mae", "corr"}
    for key in ours:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key


def test_sims_bins_on_the_edges():
    # 0.1 is (-0.1, 0.1] -> neutral; -0.7 is [-1, -0.7] -> strongly negative; for 2 classes 0 is [-1, 0]
    assert sims_metrics([0.1, -0.7, -0.1], [0.05, -1.0, -0.5])["acc_5"] == 1.0
    assert sims_metrics([0.1, -0.7, -0.1], [0.11, -0.69, -0.09])["acc_5"] == 0.0
    assert sims_metrics([0.0, 0.0], [-0.5, 0.01])["acc_2"] == 0.5


def _sims_pickle(path: Path) -> Path:
    data = mmsa_data(sizes=(60, 24, 24), aligned=False, seed=4, signal=1.0)
    rng = np.random.default_rng(0)
    for split in data.values():
        overall = np.round(split["regression_labels"] / 3.0, 1).astype(np.float32)
        split["regression_labels"] = overall
        for m in "AVT":
            split[f"regression_labels_{m}"] = np.clip(overall + rng.choice([-0.2, 0.0, 0.2], len(overall)), -1, 1)
    return write_pickle(path, data)


def test_mmsa_adapter_keeps_sims_unimodal_labels(tmp_path):
    path = _sims_pickle(tmp_path / "unaligned_39.pkl")
    info = mmsa.describe(path, ExperimentConfig())
    assert info.label_names == ("sentiment", "sentiment_A", "sentiment_V", "sentiment_T")
    segments, _ = mmsa.load_segments(info, ExperimentConfig(), progress=False)
    assert segments.labels.shape == (108, 4)
    data = mmsa_data(sizes=(60, 24, 24), aligned=False, seed=4, signal=1.0)
    np.testing.assert_allclose(segments.labels[:60, 0], np.round(data["train"]["regression_labels"] / 3.0, 1),
                               atol=1e-6)
    assert np.all(np.abs(segments.labels[:, 1:] - segments.labels[:, :1]) <= 0.2 + 1e-6)
    plain = write_pickle(tmp_path / "aligned_50.pkl", mmsa_data(sizes=(9, 3, 3)))
    assert mmsa.describe(plain, ExperimentConfig()).label_names == ("sentiment",)  # MOSI: no unimodal labels


def test_sentiment_scheme_sims_refuses_mosi_range_labels():
    from mmer_tf.tasks.base import LabelSchema
    from mmer_tf.tasks.sentiment import TASK

    schema = LabelSchema(("sentiment",), ())
    with pytest.raises(MmerError, match="--sentiment_scheme sims: CH-SIMS labels lie in \\[-1, 1\\], found 2.5"):
        TASK.targets(ExperimentConfig(sentiment_scheme="sims"), np.array([[0.5], [2.5]], np.float32), schema)
    assert TASK.tables(ExperimentConfig(sentiment_scheme="sims")) == ("sentiment_sims",)
    assert TASK.tables(ExperimentConfig()) == ("sentiment",)


@pytest.mark.slow
def test_sims_pickle_to_its_table_in_one_command(tmp_path):
    path = _sims_pickle(tmp_path / "unaligned_39.pkl")
    command = [sys.executable, "main.py", "-df", str(path), "-lt", "sentiment", "--sentiment_scheme", "sims",
               "-mn", "lf_dnn", "-e", "8", "-b", "16", "--seed", "1", "--verbose", "0",
               "-pf", str(tmp_path / "cache"), "-mf", str(tmp_path / "models")]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=400, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    csv = tmp_path / "models" / "lf_dnn" / "csv"
    row = pd.read_csv(csv / "sentiment_sims.csv").iloc[0]
    assert not (csv / "sentiment.csv").exists()
    assert {"acc_2", "acc_3", "acc_5", "f1", "mae", "corr"} <= set(row.index)
    assert row["corr"] > 0.3 and row["acc_2"] > 0.6, row.to_dict()  # the planted signal is learnt
