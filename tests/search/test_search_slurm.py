"""``run_cluster.sh --search SPACE --trials N --array K`` on a real single-node SLURM: K array tasks work on one
study at the same time and land N trials and the final seeds, each once.

The cluster is the one ``tests/slurm_support.py`` starts (skipped, with the reason, where SLURM cannot run).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from slurm_support import started_cluster
from test_search import disagreeing_corpus

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = started_cluster(tmp_path_factory.mktemp("slurm"))
    yield cluster
    cluster.stop()


@pytest.mark.slow
def test_search_array_tasks_share_one_study(cluster, tmp_path):
    corpus = disagreeing_corpus(tmp_path / "corpus", sizes=(40, 20, 20))
    space = tmp_path / "lr.yaml"
    space.write_text("learning_rate: {choices: [0.005, 0.01, 0.02]}\nmodalities: text\n")
    env = {"MMER_PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    submit = ["bash", str(REPO / "run_cluster.sh"), "--search", str(space), "--trials", "3", "--array", "2",
              "--cpus-per-task=1", "--mem=2G", "--time=10", "--",
              "--sampler", "grid", "--final_seeds", "1", "-df", str(corpus), "-lt", "category", "-mn", "lf_dnn",
              "-e", "1", "-b", "16", "-mf", "models", "-pf", str(tmp_path / "pf"), "--verbose", "0"]
    first = cluster.run(submit, cwd=tmp_path, env=env, timeout=120)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "submitting 2 search task(s) for 3 trials" in first.stdout
    cluster.wait_idle_queue(timeout=600)

    logs = sorted((tmp_path / "logs").glob("mmer_tf_*_*.out"))
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    assert len(logs) == 2, [p.name for p in (tmp_path / "logs").iterdir()]
    trials = pd.read_csv(tmp_path / "models" / "lf_dnn" / "search" / "lr.trials.csv")
    assert sorted(trials["trial"]) == [0, 1, 2] and set(trials["state"]) == {"COMPLETE"}, text[-3000:]
    assert sorted(json.loads(p)["learning_rate"] for p in trials["params"]) == [0.005, 0.01, 0.02]
    ids = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv")
    assert sorted(ids.loc[ids["final"] == 0, "trial"]) == [0, 1, 2]
    assert len(ids[ids["final"] == 1]) == 1 and ids["run_id"].is_unique
    assert ids["job"].astype(str).str.contains("_").all()  # every row names its array job and task
    assert text.count("chosen by validation") == 2  # both tasks end with the same choice
    assert cluster.run(["squeue", "-h"], timeout=10).stdout.strip() == ""
