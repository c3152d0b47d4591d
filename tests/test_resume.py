"""Preemption-safe resume: a run SIGKILLed after its 2nd of 4 epochs, re-run with the same command,
ends with exactly one row per table, equal to an uninterrupted run's (timing columns aside)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMING = {"started", "finished", "wall_time_s", "model_file"}  # model_file differs by -mf only
TABLES = ("model_ids", "regression", "classification_score_coarse", "classification_presence",
          "classification_dominant")


def _start(args, **env):
    return subprocess.Popen([sys.executable, str(REPO / "main.py")] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env})


def _finish(proc):
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _main(args, **env):
    return _finish(_start(args, **env))


def _rows(folder: Path, table: str) -> list[dict]:
    with open(folder / "lf_dnn" / "csv" / f"{table}.csv", newline="", encoding="utf-8") as handle:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(handle)]


def test_killed_run_resumes_to_the_uninterrupted_row(tmp_path):
    # Dropout on and patience below the epoch count: RNG, optimiser and early-stopping state all matter.
    common = ["--sample_videos", "24", "-e", "4", "-p", "3", "-mn", "lf_dnn", "-b", "16", "-d", "0.3",
              "--seed", "7", "-pf", str(tmp_path / "pf")]
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.data import dataset

    dataset.load_folds(ExperimentConfig(sample_videos=24, pickle_folder=str(tmp_path / "pf"), verbose=0),
                       progress=False)
    resumed = tmp_path / "resumed"
    # The uninterrupted run and the attempt that gets killed run side by side (two cores).
    running = _start(common + ["-mf", str(tmp_path / "whole")])
    killed = _main(common + ["-mf", str(resumed)], MMER_TEST_KILL_AFTER_EPOCH="2")
    whole = _finish(running)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    state_dirs = list((resumed / "lf_dnn" / ".resume").iterdir())
    state = json.loads(next(d for d in state_dirs if d.is_dir()).joinpath("state.json").read_text())
    assert state["epoch"] == 1 and len(state["history"]["loss"]) == 2, "killed after its 2nd epoch"
    assert not (resumed / "lf_dnn" / "csv" / "model_ids.csv").exists(), "the killed attempt wrote no row"

    again = _main(common + ["-mf", str(resumed)])
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming from" in again.stderr and "2 epoch(s) done" in again.stderr
    assert "epoch 1/4" not in again.stderr and "epoch 3/4" in again.stderr

    for table in TABLES:
        got, want = _rows(resumed, table), _rows(tmp_path / "whole", table)
        assert len(got) == len(want) >= 1, table
        assert got == want, table  # every metric and parameter column, run id 1 in both
    assert not (resumed / "lf_dnn" / ".resume").exists(), "state removed once the row is written"
    assert sorted(os.listdir(resumed / "lf_dnn" / "csv" / ".run_ids")) == ["1"], "the run id was reused"
    assert (resumed / "lf_dnn" / "model_l_1_n_100_d_0.3_b_16_s_0_run1.keras").is_file()
