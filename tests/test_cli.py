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


@pytest.mark.slow
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
    assert "test_loss" in presence.columns  # the original writes the test loss in every table
    # the runner prints the same drop/clean summary as the align CLI (the sample carries the real defects)
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.data.align import format_drop_summary
    from mmer_tf.data.dataset import load_folds

    _, info = load_folds(ExperimentConfig(pickle_folder=str(sample_cache), image_feature="openface", verbose=0),
                         progress=False)
    expected = format_drop_summary(info["load_summary"])
    assert expected and all(f"data: {line}" in proc.stderr for line in expected), (expected, proc.stderr[-2000:])


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


@pytest.mark.slow  # ~7 s in a not-slow run on the shared machine
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


@pytest.mark.slow
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


@pytest.mark.slow
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


# ------------------------------------------------------------------------- issue 9: the seed's lines
# The original suite's run_cluster.sh command, verbatim (helenetran3/MER-experiments, run_cluster.sh).
ORIGINAL_RUN_CLUSTER = r"""python3 main.py \
--pickle_name_dataset cmu_mosei_aligned_text_no_averaged \
--pickle_name_fold cmu_mosei \
--align_to_text \
--append_label_to_data \
--image_feature facet \
--model_name ef_williams \
--num_layers 1 \
--num_nodes 100 \
--dropout_rate 0.2 \
--final_activ linear \
--num_epochs 5 \
--patience 1 \
--batch_size 128 \
--fixed_num_steps 45 \
--label_type present \
--optimizer adam \
--loss_function mean_absolute_error \
--learning_rate 0.001 \
--val_metric loss \
--predict_neutral_class \
--threshold_emo_present 0 0.5 1 \
--round_decimals 3 \
--save_confusion_matrix \
--display_fig \
--save_predictions"""


def _main_module():
    sys.path.insert(0, str(REPO))
    try:
        import main
    finally:
        sys.path.remove(str(REPO))
    return main


def test_threshold_lists_take_the_seeds_space_separated_form_too():
    join = _main_module().join_list_values
    assert join(["m", "-tp", "0", "0.5", "1", "-e", "1"]) == ["m", "-tp", "0,0.5,1", "-e", "1"]
    assert join(["m", "--threshold_emo_present", "0,0.5", "1"]) == ["m", "--threshold_emo_present", "0,0.5,1"]
    assert join(["m", "-tp", "0,1", "--", "-tp", "2"]) == ["m", "-tp", "0,1", "--", "-tp", "2"]
    assert join(["m", "-tp", "-1", "2"]) == ["m", "-tp", "-1,2"]  # refused later as out of [0, 3], in one line
    assert join(["m", "-e", "3", "-tp"]) == ["m", "-e", "3", "-tp"]


@pytest.mark.slow
def test_the_original_run_cluster_line_runs_verbatim(tmp_path):
    """Space-separated -tp, -lt present with a typed MAE loss and linear head (honoured), one confusion
    matrix per threshold, the test loss in every table; only the built-in sample size and one epoch added."""
    argv = ORIGINAL_RUN_CLUSTER.replace("\\\n", " ").split()
    assert argv[:2] == ["python3", "main.py"]
    proc = _run([sys.executable, str(REPO / "main.py"), *argv[2:], "--sample_videos", "24", "-e", "1"],
                cwd=tmp_path)  # the original wrote relative folders: so do we (pickle_files/, models/)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "-lf mean_absolute_error with -a linear on probabilities targets: unusual" in proc.stderr
    model_dir = tmp_path / "models" / "ef_williams"
    ids = pd.read_csv(model_dir / "csv" / "model_ids.csv")
    row = ids.iloc[0]
    assert (row["loss_function"], row["final_activ"], row["label_type"]) == ("mean_absolute_error", "linear",
                                                                           "present")
    assert row["threshold_emo_present"] == "0.0,0.5,1.0" and bool(row["predict_neutral_class"])
    presence = pd.read_csv(model_dir / "csv" / "classification_presence.csv")
    assert presence["threshold"].tolist() == [0.0, 0.5, 1.0]
    for table in (model_dir / "csv").glob("classification_*.csv"):
        assert pd.read_csv(table)["test_loss"].notna().all(), table.name
    matrices = sorted(p.name for p in model_dir.glob("conf_matrix_*"))
    assert len(matrices) == 6 and all(any(f"_tp{t}." in m for m in matrices) for t in ("0", "0.5", "1"))
    assert list(model_dir.glob("predictions_*.npz"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["-lf", "mean_absolutely_error"], "-lf/--loss_function: unknown Keras loss 'mean_absolutely_error'"),
        (["-lf", ""], "-lf/--loss_function: empty"),
        (["-a", "sigmoidd"], "-a/--final_activ: unknown Keras activation 'sigmoidd'"),
        (["-lr", "0"], "-lr/--learning_rate must be > 0"),
        (["-cn", "a/b"], "-cn/--csv_name 'a/b'"),
        (["-cf", ""], "-cf/--csv_folder: must not be empty"),
        (["--seed", "-5"], "--seed"),
        (["--seed", "4294967296"], "--seed"),
        (["-tp", "0", "4"], "thresholds must lie in [0, 3]"),
    ],
)
def test_bad_values_are_refused_before_any_work_and_take_no_run_id(args, message, tmp_path, capsys):
    main = _main_module()
    models = tmp_path / "m"
    code = main.main(["main.py", *args, "-mf", str(models), "-pf", str(tmp_path / "p"), "--sample_videos", "12"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not models.exists() and not (tmp_path / "p").exists()  # nothing loaded, no id reserved


def test_a_file_or_read_only_folder_as_pickle_folder_is_one_line(tmp_path, capsys):
    main = _main_module()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code = main.main(["main.py", "-pf", str(a_file), "-mf", str(tmp_path / "m")])
    assert code == 2 and capsys.readouterr().err.strip() == f"error: -pf/--pickle_folder {a_file}: is a file, not a folder"
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the read-only case needs an ordinary user")
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    try:
        code = main.main(["main.py", "-pf", str(read_only), "-mf", str(tmp_path / "m"), "--sample_videos", "12"])
    finally:
        read_only.chmod(0o755)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and str(read_only) in lines[0]
