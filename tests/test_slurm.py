"""run_cluster.sh on a real single-node SLURM: a 2-line x 2-seed sweep lands four rows, once.

The cluster (munged, slurmctld, slurmd) is started by ``tests/slurm_support.py`` in a temporary folder
and torn down afterwards; the test is skipped, with the reason, only where SLURM cannot be started
(not installed, not root).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from slurm_support import started_cluster

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = started_cluster(tmp_path_factory.mktemp("slurm"))
    yield cluster
    cluster.stop()


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_sweep_array_lands_every_run_once(cluster, tmp_path):
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.data import dataset

    pickles = tmp_path / "pf"
    # Build the tiny sample's caches once, so the four tasks only train.
    dataset.load_folds(ExperimentConfig(sample_videos=24, pickle_folder=str(pickles), verbose=0), progress=False)
    sweep = tmp_path / "sweep.txt"
    sweep.write_text(f"# two lines x two seeds\n"
                     f"--sample_videos 24 -e 1 -mn lf_dnn -b 16 -pf {pickles} -mf models\n\n"
                     f"--sample_videos 24 -e 1 -mn lf_dnn -b 8 -pf {pickles} -mf models\n")
    env = {"MMER_PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    submit = ["bash", str(REPO / "run_cluster.sh"), "--sweep", str(sweep), "--seeds", "1,2",
              "--max-concurrent", "2", "--cpus-per-task=1", "--mem=1G", "--time=10"]
    first = cluster.run(submit, cwd=tmp_path, env=env, timeout=120)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "submitting 4 tasks" in first.stdout
    cluster.wait_idle_queue(timeout=240)

    rows = _rows(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv")
    assert sorted((r["batch_size"], r["seed"]) for r in rows) == [("16", "1"), ("16", "2"), ("8", "1"), ("8", "2")]
    assert len({r["config_digest"] for r in rows}) == 4
    assert all(r["job"] and "_" in r["job"] for r in rows), "rows name their array job and task"
    regression = _rows(tmp_path / "models" / "lf_dnn" / "csv" / "regression.csv")
    assert sorted(r["run_id"] for r in regression) == sorted(r["run_id"] for r in rows)
    task_logs = sorted((tmp_path / "logs").glob("mmer_tf_*_*.out"))
    assert len(task_logs) == 4, [p.name for p in (tmp_path / "logs").iterdir()]
    assert not (tmp_path / "models" / "lf_dnn" / ".resume").exists(), "finished runs leave no resume state"

    again = cluster.run(submit, cwd=tmp_path, env=env, timeout=120)
    assert again.returncode == 0, again.stderr + again.stdout
    assert "nothing to submit" in again.stdout
    assert cluster.run(["squeue", "-h"], timeout=10).stdout.strip() == ""
    assert len(_rows(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv")) == 4


@pytest.mark.slow
def test_data_parallel_processes_come_from_slurm(cluster, tmp_path):
    """sbatch --ntasks=2 run_cluster.sh --distribution data_parallel: srun starts two JAX processes that
    find their rank and the coordinator (first host of SLURM_JOB_NODELIST) in SLURM's environment."""
    pytest.importorskip("jax")
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.data import dataset

    pickles = tmp_path / "pf"
    dataset.load_folds(ExperimentConfig(sample_videos=24, pickle_folder=str(pickles), verbose=0), progress=False)
    (tmp_path / "logs").mkdir()  # SLURM opens the job's log before the script runs
    env = {"MMER_PYTHON": sys.executable}
    submit = cluster.run(["sbatch", "--ntasks=2", "--cpus-per-task=1", "--mem=2G", "--time=10",
                          str(REPO / "run_cluster.sh"), "--sample_videos", "24", "-e", "1", "-b", "8", "-s", "20",
                          "-mn", "lf_dnn", "--distribution", "data_parallel", "-pf", str(pickles), "-mf", "models"],
                         cwd=tmp_path, env=env, timeout=60)
    assert submit.returncode == 0, submit.stderr
    cluster.wait_idle_queue(timeout=300)
    log = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "logs").glob("*.out"))
    host = cluster.run(["sinfo", "-h", "-o", "%n"], timeout=10).stdout.split()[0]
    for rank in (0, 1):
        assert f"process {rank} of 2, coordinator {host}:" in log, log[-3000:]
    rows = _rows(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv")
    assert len(rows) == 1 and rows[0]["distribution"] == "data_parallel" and rows[0]["keras_backend"] == "jax"
