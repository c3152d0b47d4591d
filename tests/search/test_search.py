"""``python -m mmer_tf search`` as a user runs it: the choice is made on validation only, processes share a
study, a killed search resumes, and a bad space file is one line before any trial.

The end-to-end searches run on a constructed feature-folder corpus where validation and test disagree on
purpose: the text modality carries the class in the training and validation folds but is noise in the
test fold, and the audio modality the other way round. A search over ``--modalities`` must therefore
choose text (best validation loss) although audio is the best on test: a search that peeked at test
metrics would choose audio.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def disagreeing_corpus(root: Path, sizes=(80, 40, 40), seed=0) -> Path:
    """Feature folder, 2 classes: text predicts the class in train+valid, audio in train+test, vision never."""
    rng = np.random.default_rng(seed)
    informative = {"train": ("text", "audio"), "valid": ("text",), "test": ("audio",)}
    rows = []
    for split, n in zip(("train", "valid", "test"), sizes):
        for i in range(n):
            seg = f"{split}_{i:03d}"
            k = i % 2
            for modality in ("text", "audio", "vision"):
                values = rng.normal(0.0, 1.0, (3, 4))
                if modality in informative[split]:
                    values += 2.0 if k else -2.0
                folder = root / split / modality
                folder.mkdir(parents=True, exist_ok=True)
                np.save(folder / f"{seg}.npy", values.astype(np.float32))
            rows.append((seg, split, ("neg", "pos")[k]))
    with open(root / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "split", "label"])
        writer.writerows(rows)
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return disagreeing_corpus(tmp_path_factory.mktemp("disagree"))


def _search(args, cwd=REPO, **popen):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "mmer_tf", "search", *map(str, args)]
    if popen:
        return subprocess.Popen(command, cwd=cwd, env=env, **popen)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _space(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _run_flags(corpus, tmp_path, *extra):
    return ["-df", corpus, "-lt", "category", "-mn", "lf_dnn", "-e", "2", "-b", "16", "-lr", "0.01",
            "-mf", tmp_path / "models", "-pf", tmp_path / "pf", "--verbose", "0", *extra]


def _trials(journal_dir: Path, study: str) -> pd.DataFrame:
    return pd.read_csv(journal_dir / f"{study}.trials.csv")


# ------------------------------------------------------------------------------ the choice
@pytest.mark.slow
def test_search_chooses_on_validation_not_test_and_reruns_the_choice(corpus, tmp_path):
    space = _space(tmp_path / "modal.yaml", "modalities: {choices: [text, audio, vision]}\n")
    proc = _search(["--space", space, "--trials", 3, "--final_seeds", 2, "--sampler", "grid", "--no_pruning",
                    *_run_flags(corpus, tmp_path)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    model_dir = tmp_path / "models" / "lf_dnn"
    trials = _trials(model_dir / "search", "modal")
    assert list(trials.columns) == ["trial", "params", "state", "value", "run_id"]
    assert sorted(trials["trial"]) == [0, 1, 2] and set(trials["state"]) == {"COMPLETE"}
    modality = {row.trial: json.loads(row.params)["modalities"] for row in trials.itertuples()}
    assert sorted(modality.values()) == ["audio", "text", "vision"]

    ids = pd.read_csv(model_dir / "csv" / "model_ids.csv")
    scores = pd.read_csv(model_dir / "csv" / "classification_category.csv")
    runs = ids.merge(scores, on="run_id")
    trial_rows = runs[runs["final"] == 0].set_index("trial")
    assert sorted(trial_rows.index) == [0, 1, 2] and set(ids["study"]) == {"modal"}
    # trials.csv's value is the validation loss each run recorded; the run ids agree
    for row in trials.itertuples():
        assert trial_rows.loc[row.trial, "run_id"] == row.run_id
        assert trial_rows.loc[row.trial, "best_valid_value"] == pytest.approx(row.value, abs=1e-3)
    by_validation = int(trials.loc[trials["value"].idxmin(), "trial"])
    by_test = int(trial_rows["f1_macro"].idxmax())
    assert modality[by_validation] == "text" and modality[by_test] == "audio"  # the constructed disagreement
    assert f"chosen by validation: trial {by_validation} " in proc.stdout

    final = runs[runs["final"] == 1]
    assert len(final) == 2 and set(final["trial"]) == {by_validation}
    assert sorted(final["seed"]) == [43, 44] and set(final["modalities"]) == {"text"}
    # the closing print is the final runs' mean ± sample std and t interval, read from the tables
    from mmer_tf import stats

    s = stats.summarize(final["f1_macro"].tolist())
    line = next(line for line in proc.stdout.splitlines() if "classification_category" in line and " f1_macro " in line)
    assert f"{s.mean:.4f} ± {s.std:.4f}" in line and f"[{s.ci_low:.4f}, {s.ci_high:.4f}]" in line and "n=2" in line
    # every row says what reproduces it
    for column in ("code_version", "tensorflow_version", "keras_version", "data_fingerprint", "device"):
        assert ids[column].notna().all() and (ids[column].astype(str) != "").all(), column
    assert ids["code_version"].str.match(r"^(git:[0-9a-f]{40}(\+dirty)?|mmer_tf .+)$").all()
    assert ids["data_fingerprint"].nunique() == 1  # the same files and folds (modalities are picked after)

    # a second identical command finds the study done: no new trial, no new row, the same choice
    again = _search(["--space", space, "--trials", 3, "--final_seeds", 2, "--sampler", "grid", "--no_pruning",
                     *_run_flags(corpus, tmp_path)])
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(pd.read_csv(model_dir / "csv" / "model_ids.csv")) == len(ids)
    assert f"chosen by validation: trial {by_validation} " in again.stdout


# ------------------------------------------------------------------------------ processes
@pytest.mark.slow
def test_two_concurrent_searches_share_one_study_without_duplicates(corpus, tmp_path):
    space = _space(tmp_path / "lr.yaml", "learning_rate: {float: [0.001, 0.05], log: true}\nmodalities: text\n")
    args = ["--space", space, "--trials", 4, "--final_seeds", 1, "--sampler", "random",
            *_run_flags(corpus, tmp_path)]
    args[args.index("-e") + 1] = "1"
    logs = [open(tmp_path / f"p{i}.log", "w") for i in range(2)]
    procs = [_search(args, stdout=log, stderr=subprocess.STDOUT) for log in logs]
    codes = [p.wait(timeout=900) for p in procs]
    for log in logs:
        log.close()
    assert codes == [0, 0], [(tmp_path / f"p{i}.log").read_text()[-2000:] for i in range(2)]
    model_dir = tmp_path / "models" / "lf_dnn"
    trials = _trials(model_dir / "search", "lr")
    assert sorted(trials["trial"]) == [0, 1, 2, 3] and set(trials["state"]) == {"COMPLETE"}
    ids = pd.read_csv(model_dir / "csv" / "model_ids.csv")
    searched = ids[ids["final"] == 0]
    assert sorted(searched["trial"]) == [0, 1, 2, 3]  # no trial twice, none lost
    assert sorted(searched["run_id"]) == sorted(trials["run_id"])
    assert ids["run_id"].is_unique
    assert len(ids[ids["final"] == 1]) == 1  # the one final seed ran once, in one of the two processes
    outputs = [(tmp_path / f"p{i}.log").read_text() for i in range(2)]
    chosen = {line for out in outputs for line in out.splitlines() if "chosen by validation" in line}
    assert len(chosen) == 1  # both processes report the same choice


@pytest.mark.slow
def test_a_killed_search_resumes_and_retries_the_dead_trial(corpus, tmp_path):
    space = _space(tmp_path / "kill.yaml", "learning_rate: {choices: [0.01, 0.02, 0.03]}\nmodalities: text\n")
    args = ["--space", space, "--trials", 3, "--final_seeds", 0, "--sampler", "grid", "--no_pruning",
            *_run_flags(corpus, tmp_path)]
    args[args.index("-e") + 1] = "4"
    table = tmp_path / "models" / "lf_dnn" / "search" / "kill.trials.csv"
    proc = _search(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    try:
        while time.time() < deadline:  # kill it while its second trial runs
            if table.is_file():
                states = pd.read_csv(table)["state"].tolist()
                if states.count("COMPLETE") == 1 and "RUNNING" in states:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the search never reached its second trial")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = pd.read_csv(table)
    done_before = before[before["state"] == "COMPLETE"]
    killed = int(before.loc[before["state"] == "RUNNING", "trial"].iloc[0])

    again = _search(args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"trial {killed}: its process is gone; failed and enqueued again" in again.stderr
    after = _trials(table.parent, "kill")
    assert after.loc[after["trial"] == killed, "state"].item() == "FAIL"
    complete = after[after["state"] == "COMPLETE"]
    assert len(complete) == 3 and len(after) == 4
    assert sorted(json.loads(p)["learning_rate"] for p in complete["params"]) == [0.01, 0.02, 0.03]
    # the trial finished before the kill was not run again
    first = done_before.iloc[0]
    assert complete.loc[complete["trial"] == first["trial"], "run_id"].item() == first["run_id"]
    ids = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv")
    assert len(ids) == 3 and sorted(ids["run_id"]) == sorted(complete["run_id"])


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("text, message", [
    ("no_such_flag: {choices: [1, 2]}\n", "unknown flag 'no_such_flag'"),
    ("learning_rate: {float: [0.1, 0.01]}\n", "low 0.1 must be below high 0.01"),
    ("num_layers: {float: [1, 3]}\n", "a float range, but the flag takes int values"),
    ("num_layers: {int: [1, 5]}\n", "num_layers=5"),
    ("seed: {choices: [1, 2]}\n", "seed: not searchable"),
    ("learning_rate: [0.1, 0.01]\n", "write {choices: [...]}"),
    ("learning_rate: {float: [0.0, 0.1], log: true}\n", "a log range needs low > 0"),
    ("learning_rate: {floats: [0.001, 0.1]}\n", "unknown key(s) floats"),
    ("- just a list\n", "expected a mapping"),
    ("learning_rate: 0.01\n", "nothing to search"),
])
def test_a_bad_space_file_is_one_line_before_any_trial(text, message, tmp_path):
    from absl import flags

    from mmer_tf import cli_flags
    from mmer_tf.errors import MmerError
    from mmer_tf.search import space as space_lib

    values = flags.FlagValues()
    cli_flags.define_flags(values)
    values(["x"])
    path = _space(tmp_path / "s.yaml", text)

    def config_for(words):
        values.unparse_flags()
        try:
            values(["x", *words])
        except flags.Error as exc:
            raise MmerError(str(exc)) from None
        return cli_flags.config_from_flags(values)

    with pytest.raises(MmerError) as caught:
        space_lib.check_values(space_lib.read_space(path, values), config_for)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.slow
def test_the_command_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path):
    space = _space(tmp_path / "s.yaml", "dropout_rate: {float: [0.1, 0.99]}\n")
    proc = _search(["--space", space, "--trials", 2, "-mf", tmp_path / "m", "-pf", tmp_path / "p"])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and proc.stderr.startswith("error: ")
    assert "dropout_rate=0.99" in proc.stderr
    bad_flag = _search(["--space", space, "--trials", 2, "-e", "0", "-mf", tmp_path / "m"])
    assert bad_flag.returncode == 2 and len(bad_flag.stderr.strip().splitlines()) == 1, bad_flag.stderr
    missing = _search(["--trials", 2])
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        "error: the following arguments are required: --space"]
    assert not (tmp_path / "m").exists()


# ------------------------------------------------------------------------------ pruning
def test_the_pruning_callback_reports_the_best_value_so_far_and_prunes(tmp_path):
    import optuna

    from mmer_tf.callbacks.pruning import TrialPruning

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    first = study.ask()
    callback = TrialPruning(first, "val_loss", "min")
    for epoch, value in enumerate([0.5, 0.7, 0.3]):  # 0.7 is reported as the best so far, 0.5
        callback.on_epoch_end(epoch, {"val_loss": value, "loss": 9.0})
    assert first.storage.get_trial(first._trial_id).intermediate_values == {0: 0.5, 1: 0.5, 2: 0.3}
    study.tell(first, 0.3)
    second = TrialPruning(study.ask(), "val_loss", "min")
    second.on_epoch_end(0, {"val_loss": float("nan")})  # nothing to report
    second.on_epoch_end(0, {"val_loss": 0.45})  # better than the first trial's 0.5 at epoch 0: goes on
    third = TrialPruning(study.ask(), "val_loss", "min")
    with pytest.raises(optuna.TrialPruned):
        third.on_epoch_end(0, {"val_loss": 0.8})  # worse than the median of the complete trials at epoch 0
    rising = TrialPruning(optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner()).ask(),
                          "val_acc", "max")
    rising.on_epoch_end(0, {"val_acc": 0.6})
    rising.on_epoch_end(1, {"val_acc": 0.4})
    assert rising.best == 0.6


def test_the_readme_space_examples_parse(tmp_path):
    """Each model family's example space in the README names real flags with valid ranges."""
    import re

    from absl import flags

    from mmer_tf import cli_flags
    from mmer_tf.search import space as space_lib

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"One example per model family:\n```yaml\n(.*?)```", text, re.S).group(1)
    examples = block.split("---\n")
    assert len(examples) == 4
    values = flags.FlagValues()
    cli_flags.define_flags(values)
    for i, example in enumerate(examples):
        parsed = space_lib.read_space(_space(tmp_path / f"example{i}.yaml", example), values)
        assert parsed.params and all(name in values for name in parsed.params)


@pytest.mark.slow
def test_a_pruned_trial_is_in_the_study_and_trials_csv_but_writes_no_row(corpus, tmp_path):
    space = _space(tmp_path / "prune.yaml", "modalities: {choices: [text, audio, vision]}\n")
    # grid order under --seed 42 puts text first; its validation loss then prunes the other two at epoch 1
    proc = _search(["--space", space, "--trials", 3, "--final_seeds", 0, "--sampler", "grid",
                    "--pruning_startup_trials", 1, *_run_flags(corpus, tmp_path)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    model_dir = tmp_path / "models" / "lf_dnn"
    trials = _trials(model_dir / "search", "prune")
    pruned = trials[trials["state"] == "PRUNED"]
    complete = trials[trials["state"] == "COMPLETE"]
    assert len(pruned) >= 1 and len(complete) >= 1 and len(trials) == 3
    assert pruned["run_id"].isna().all() and pruned["value"].isna().all()
    ids = pd.read_csv(model_dir / "csv" / "model_ids.csv")
    assert sorted(ids["trial"]) == sorted(complete["trial"])  # a pruned trial writes no row
    scores = pd.read_csv(model_dir / "csv" / "classification_category.csv")
    assert sorted(scores["run_id"]) == sorted(ids["run_id"])
    # nothing of the pruned runs is left behind: no checkpoint, no reserved id, no resume state
    assert len(list(model_dir.glob("model_*.keras"))) == len(complete)
    assert sorted(int(p.name) for p in (model_dir / "csv" / ".run_ids").iterdir()) == sorted(ids["run_id"])
    assert not list((model_dir / ".resume").glob("*/state.json"))


@pytest.mark.slow
def test_run_cluster_search_submits_one_array_sharing_the_study(corpus, tmp_path):
    from test_cli import _fake_sbatch  # an sbatch that runs the array's tasks here, one after the other

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_sbatch(bin_dir)
    space = _space(tmp_path / "array.yaml", "learning_rate: {choices: [0.01, 0.02]}\nmodalities: text\n")
    flags = [str(a) for a in _run_flags(corpus, tmp_path)]
    flags[flags.index("-e") + 1] = "1"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_SBATCH_LOG=str(tmp_path / "sbatch.log"),
               MMER_PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(["bash", str(REPO / "run_cluster.sh"), "--search", str(space), "--trials", "2", "--array", "2",
                           "--partition=cpu", "--", "--sampler", "grid", "--final_seeds", "1", *flags],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "submitting 2 search task(s) for 2 trials" in proc.stdout
    assert "--partition=cpu" in (tmp_path / "sbatch.log").read_text()
    assert proc.stdout.count("search task ") == 2  # both array tasks ran a search process on the study
    trials = _trials(tmp_path / "models" / "lf_dnn" / "search", "array")
    assert sorted(trials["trial"]) == [0, 1] and set(trials["state"]) == {"COMPLETE"}
    ids = pd.read_csv(tmp_path / "models" / "lf_dnn" / "csv" / "model_ids.csv")
    assert sorted(ids["final"]) == [0, 0, 1]  # the second task found the trials and the final seed done
    assert len({line for line in proc.stdout.splitlines() if "chosen by validation" in line}) == 1
