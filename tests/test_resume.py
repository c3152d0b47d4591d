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

import pytest

REPO = Path(__file__).resolve().parents[1]
# model_file differs by -mf only; code_version is the checkout at each process start, which a developer's
# working tree may change between the two runs (a fresh clone, as in CI, keeps it equal).
NOT_COMPARED = {"started", "finished", "wall_time_s", "model_file", "code_version"}
TABLES = ("model_ids", "regression", "classification_score_coarse", "classification_presence",
          "classification_dominant")


def _start(args, **env):
    # MMER_HOOK_* variables need main.py run through the test hooks' wrapper (tests/main_with_hooks.py)
    script = "tests/main_with_hooks.py" if any(k.startswith("MMER_HOOK_") for k in env) else "main.py"
    return subprocess.Popen([sys.executable, str(REPO / script)] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env})


def _finish(proc):
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _main(args, **env):
    return _finish(_start(args, **env))


def _rows(folder: Path, table: str) -> list[dict]:
    with open(folder / "lf_dnn" / "csv" / f"{table}.csv", newline="", encoding="utf-8") as handle:
        return [{k: v for k, v in row.items() if k not in NOT_COMPARED} for row in csv.DictReader(handle)]


@pytest.mark.slow
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
    killed = _main(common + ["-mf", str(resumed)], MMER_HOOK_KILL_AFTER_EPOCH="2")
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


@pytest.mark.slow
def test_sigusr1_stops_after_the_epoch_is_saved_with_exit_75(tmp_path):
    import keras
    import numpy as np
    import pytest

    from mmer_tf import resume

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mae")
    state = resume.RunState(tmp_path / "state")
    stop = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True, monitor="loss")
    first, last, initial = resume.attach(model, None, [stop], state, run_id=7, num_epochs=5)
    assert initial == 0
    resume.install_preemption_handler()
    os.kill(os.getpid(), signal.SIGUSR1)  # as run_cluster.sh forwards SLURM's --signal=B:USR1@120
    try:
        with pytest.raises(SystemExit) as stopped:
            model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=5, verbose=0, callbacks=[stop] + last)
    finally:
        resume._STOP_REQUESTED = False
    assert stopped.value.code == resume.EXIT_PREEMPTED
    saved = state.load()
    assert saved["epoch"] == 0 and saved["run_id"] == 7 and len(saved["history"]["loss"]) == 1

    # A fresh model picks the state up: weights, optimiser step, early stopping, one epoch done.
    keras.utils.set_random_seed(1)
    again = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    again.compile(optimizer="adam", loss="mae")
    stop2 = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True, monitor="loss")
    _, last2, initial2 = resume.attach(again, None, [stop2], state, run_id=7, num_epochs=5)
    assert initial2 == 1
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(again.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 1
    last2[0].on_train_begin()
    assert stop2.best == saved["early_stopping"]["best"] and stop2.best_weights is not None


def test_run_cluster_forwards_usr1_and_requeues_the_job(tmp_path):
    """The batch script passes SLURM's warning signal to the run and requeues when the run saved (exit 75)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_python = bin_dir / "python"
    fake_python.write_text("#!/usr/bin/env bash\ntrap 'echo saved; exit 75' USR1\necho started\n"
                           "for i in $(seq 300); do sleep 0.1; done\nexit 0\n")
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f"#!/usr/bin/env bash\necho \"$@\" > {tmp_path / 'scontrol.log'}\n")
    for tool in (fake_python, scontrol):
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MMER_PYTHON": str(fake_python),
           "SLURM_JOB_ID": "4242", "SLURM_ARRAY_JOB_ID": "4240", "SLURM_ARRAY_TASK_ID": "2"}
    env.pop("SLURM_NTASKS", None)
    proc = subprocess.Popen(["bash", str(REPO / "run_cluster.sh"), "-e", "4"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import time

    deadline = time.time() + 20
    while time.time() < deadline and not (tmp_path / "logs").exists():
        time.sleep(0.1)
    time.sleep(1.0)  # the run has started and the trap is set
    proc.send_signal(signal.SIGUSR1)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, out + err
    assert "saved" in out and "requeueing 4240_2" in out
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4240_2"]


def test_run_id_is_reused_while_reserved_skipped_when_recorded_dropped_when_released(tmp_path):
    from mmer_tf import resume, results
    from mmer_tf.config import ExperimentConfig

    paths = results.RunPaths.for_config(ExperimentConfig(model_folder=str(tmp_path)))
    state = resume.RunState(resume.folder_for(paths, ExperimentConfig(model_folder=str(tmp_path))))
    reserve = lambda: results.reserve_run_id(paths.csv_dir)  # noqa: E731
    assert state.begin(paths, reserve) == (1, "new")
    state._write_json({"run_id": 1, "epoch": 2})  # an attempt killed after its 3rd epoch
    assert state.begin(paths, reserve) == (1, "resumed")
    # Killed after its rows were written but before the state was removed: nothing left to do.
    paths.csv_dir.mkdir(parents=True, exist_ok=True)
    (paths.csv_dir / "model_ids.csv").write_text("run_id,status\n1,ok\n")
    assert state.begin(paths, reserve) == (1, "recorded")
    # Ctrl-C gave the id back (main.py discards the run): the stale state is dropped, a new id taken.
    (paths.csv_dir / "model_ids.csv").unlink()
    results.release_run_id(paths.csv_dir, 1)
    run_id, status = state.begin(paths, reserve)
    assert status == "new" and state.load() == {"run_id": run_id, "epoch": -1}
    state.clear()
    assert not state.folder.exists() and not state.folder.parent.exists()
