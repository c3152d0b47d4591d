"""The command line as a user meets it: ``main.py`` flags, one-line errors, ``run_cluster.sh``."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args, cwd=REPO, env=None, timeout=600):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def test_seed_command_line_trains_and_writes_the_tables(sample_cache, tmp_path):
    models = tmp_path / "models"
    proc = _run([sys.executable, "main.py", "-f", "openface", "-l", "2", "-b", "32", "-e", "1",
                 "-pf", str(sample_cache), "-mf", str(models), "-sp", "-tp", "0,1"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "BUILT-IN SYNTHETIC" in proc.stderr  # said loudly
    csv_dir = models / "ef_williams" / "csv"
    ids = pd.read_csv(csv_dir / "model_ids.csv")
    assert ids.loc[0, "image_feature"] == "openface" and ids.loc[0, "num_layers"] == 2
    assert ids.loc[0, "batch_size"] == 32 and ids.loc[0, "dataset"] == "builtin-sample"
    presence = pd.read_csv(csv_dir / "classification_presence.csv")
    assert presence["threshold"].tolist() == [0.0, 1.0]
    assert {"mae", "mse_happy"} <= set(pd.read_csv(csv_dir / "regression.csv").columns)
    assert list((models / "ef_williams").glob("*.npz"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["-l", "5"], "num_layers"),
        (["-mn", "no_such_model"], "unknown model 'no_such_model'"),
        (["-f", "kinect"], "image_feature"),
        (["-tp", "0,x"], "threshold_emo_present"),
        (["--modalities", "text,smell"], "--modalities"),
    ],
)
def test_a_bad_flag_value_is_one_line_and_a_nonzero_exit(args, message, tmp_path):
    proc = _run([sys.executable, "main.py", *args, "-mf", str(tmp_path / "m"), "-pf", str(tmp_path / "p")])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr
    assert not (tmp_path / "m").exists()


def test_a_missing_dataset_folder_is_one_line(tmp_path):
    proc = _run([sys.executable, "main.py", "-df", str(tmp_path / "nowhere"), "-mf", str(tmp_path / "m")])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: -df/--dataset_folder {tmp_path / 'nowhere'}: no such file or folder"]


def _fake_sbatch(bin_dir: Path) -> None:
    """An ``sbatch`` that runs every array task here, one after the other, as SLURM would."""
    script = bin_dir / "sbatch"
    script.write_text(
        "#!/usr/bin/env bash\n"
        "set -eu\n"
        "array=''; args=()\n"
        "opts=1\n"
        "for a in \"$@\"; do\n"
        "  if [ $opts = 1 ]; then case $a in --array=*) array=${a#--array=}; continue;; -*) echo \"$a\" >> \"$FAKE_SBATCH_LOG\"; continue;; esac; fi\n"
        "  opts=0; args+=(\"$a\")\n"
        "done\n"
        "last=${array#*-}\n"
        "for i in $(seq 0 \"$last\"); do SLURM_ARRAY_TASK_ID=$i SLURM_CPUS_PER_TASK=2 SLURM_SUBMIT_DIR=$PWD bash \"${args[@]}\"; done\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_run_cluster_sweep_runs_one_task_per_line_into_the_same_tables(sample_cache, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_sbatch(bin_dir)
    models = tmp_path / "models"
    common = f"-e 1 -pf {sample_cache} -mf {models} -mn lf_dnn"
    sweep = tmp_path / "sweep.txt"
    sweep.write_text(f"# a two-point sweep\n{common} --modalities text\n\n{common} -d 0.3 --seed 3\n")
    proc = _run(["bash", "run_cluster.sh", "--sweep", str(sweep), "--partition=cpu"],
                env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_SBATCH_LOG": str(tmp_path / "sbatch.log"),
                     "MMER_PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "submitting 2 tasks" in proc.stdout
    assert "--partition=cpu" in (tmp_path / "sbatch.log").read_text()
    ids = pd.read_csv(models / "lf_dnn" / "csv" / "model_ids.csv")
    assert sorted(ids["run_id"]) == [1, 2]
    assert sorted(ids["modalities"]) == ["text", "text,audio,vision"]
    assert sorted(ids["seed"]) == [3, 42]


def test_run_cluster_without_slurm_runs_main_here(sample_cache, tmp_path):
    models = tmp_path / "models"
    proc = _run(["bash", "run_cluster.sh", "-e", "1", "-pf", str(sample_cache), "-mf", str(models)],
                env={"MMER_PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(pd.read_csv(models / "ef_williams" / "csv" / "model_ids.csv")) == 1


def test_help_lists_the_seed_flags_and_model_hyperparameters():
    proc = _run([sys.executable, "main.py", "--help"])
    assert proc.returncode == 0
    for flag in ("-df,--dataset_folder", "-pnd,--pickle_name_dataset", "-scm,--[no]save_confusion_matrix",
                 "-lt,--label_type", "-tp,--threshold_emo_present", "--mult_", "--tfn_"):
        assert flag in proc.stdout, flag
