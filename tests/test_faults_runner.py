"""Fault injection on ``main.py``: a full disk, read-only folders, Ctrl-C during training, SIGKILL at
each stage of the table write, a corrupt table. Each must end in one ``error:``/``interrupted`` line
and a non-zero exit, leave no partial table row and no hidden leftovers, and a rerun must succeed.

Runs are tiny (``--sample_videos 24 -e 1 -mn lf_dnn``) on one shared pickle folder. Tmpfs mounts (the
only way to fill a disk, and to make a folder read-only for root) are skipped, with the reason shown,
where ``mount`` is not allowed.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from signal_support import default_signals

REPO = Path(__file__).resolve().parents[1]
TINY = ["--sample_videos", "24", "-e", "1", "-mn", "lf_dnn"]
TABLES = ("model_ids.csv", "regression.csv", "classification_score_coarse.csv", "classification_presence.csv",
          "classification_dominant.csv")

# Runs main.main with results.store._fault_point replaced: SIGKILL on the Nth time a stage is reached.
KILL_AT_STAGE = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
import main
from mmer_tf.results import store
stage, nth = sys.argv[2], int(sys.argv[3])
seen = [0]
def fault(at):
    if at == stage:
        seen[0] += 1
        if seen[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
store._fault_point = fault
sys.exit(main.main(["main.py"] + sys.argv[4:]))
"""


@pytest.fixture(scope="module")
def pickles(tmp_path_factory):
    """The 24-video built-in sample and its caches, built once for every run of this module."""
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.data import dataset

    folder = tmp_path_factory.mktemp("fault_pickles")
    dataset.load_folds(ExperimentConfig(pickle_folder=str(folder), sample_videos=24, verbose=0), progress=False)
    return folder


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1] if stderr.strip() else ""


def _assert_one_line_failure(proc, code=2, starts="error: "):
    assert proc.returncode == code, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert _last_line(proc.stderr).startswith(starts), proc.stderr[-2000:]


def _hidden_leftovers(*folders):
    found = []
    for folder in folders:
        for path in Path(folder).rglob(".*"):
            if path.name.endswith((".txn", ".tmp", ".tmp.keras")) or path.name == ".tables.journal":
                found.append(path)
    return found


def _run_ids(table: Path) -> list[int]:
    if not table.exists():
        return []
    with open(table, newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    header = records[0]
    assert all(len(r) == len(header) for r in records[1:]), f"{table}: ragged row"
    return sorted(int(r[0]) for r in records[1:])


def _assert_consistent(csv_dir: Path) -> list[int]:
    """Every table lists exactly the runs model_ids.csv lists: no partial run anywhere."""
    recorded = _run_ids(csv_dir / "model_ids.csv")
    for name in TABLES[1:]:
        ids = sorted(set(_run_ids(csv_dir / name)))
        assert ids == sorted(set(recorded)), (name, ids, recorded)
    return recorded


@pytest.fixture
def tmpfs(tmp_path):
    """Mount tmpfs filesystems under tmp_path (unmounted afterwards); skips when mount is refused."""
    mounted = []

    def mount(name, options):
        target = tmp_path / name
        target.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            pytest.skip(f"mount -t tmpfs not allowed here ({proc.stderr.strip() or proc.returncode})")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", str(target)], capture_output=True)


@pytest.mark.slow
def test_ctrl_c_during_training_is_one_line_and_leaves_nothing(pickles, tmp_path, capsys):
    models = tmp_path / "models"
    args = [str(REPO / "main.py"), "-pf", str(pickles), "-mf", str(models), *TINY, "-e", "500", "-p", "500"]
    proc = subprocess.Popen([sys.executable, *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), preexec_fn=default_signals)
    seen, deadline = [], time.time() + 120
    for line in proc.stderr:  # wait until training really runs
        seen.append(line)
        if "epoch 2/500" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    code = proc.wait(timeout=60)
    stderr = "".join(seen) + rest
    assert code == 130, stderr[-2000:]
    assert _last_line(stderr) == "interrupted" and "Traceback" not in stderr, stderr[-2000:]
    model_dir = models / "lf_dnn"
    assert not list(model_dir.glob("*run1*")) and not list(model_dir.glob(".*run1*"))  # checkpoint removed
    assert not any((model_dir / "csv" / ".run_ids").iterdir())  # id given back
    assert not (model_dir / "csv" / "model_ids.csv").exists()
    code, err = _in_process(["-pf", str(pickles), "-mf", str(models), *TINY], capsys)  # the rerun
    assert code == 0, err[-2000:]
    assert _assert_consistent(model_dir / "csv") == [1]
    assert _hidden_leftovers(models) == []


@pytest.mark.slow
def test_sigkill_before_and_between_table_writes_then_a_rerun(pickles, tmp_path, capsys):
    models = tmp_path / "models"
    csv_dir = models / "lf_dnn" / "csv"
    common = ["-pf", str(pickles), "-mf", str(models), *TINY]
    for stage, nth in (("staged", 1), ("renamed", 2)):  # before any table changed; after 2 of 5 renamed
        proc = subprocess.run([sys.executable, "-c", KILL_AT_STAGE, str(REPO), stage, str(nth), *common],
                              capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    # The first kill (before the commit point) changed no table; the second attempt (which resumes the
    # same run id, mmer_tf.resume) was killed after the commit point, between tables: 2 of 5 hold its row.
    killed = _run_ids(csv_dir / "regression.csv")
    assert len(killed) == 1 and _run_ids(csv_dir / "model_ids.csv") == []
    code, err = _in_process(common, capsys)  # the rerun
    assert code == 0, err[-2000:]
    # the rerun's first table access finished the committed append: that run whole, once, everywhere
    recorded = _assert_consistent(csv_dir)
    assert killed[0] in recorded and len(recorded) == len(set(recorded))
    assert _hidden_leftovers(models) == []


def _in_process(args, capsys):
    """``main.main`` in this process (no TensorFlow start-up per run): (exit code, stderr)."""
    sys.path.insert(0, str(REPO))
    try:
        import main
    finally:
        sys.path.remove(str(REPO))
    import logging

    logging.getLogger("mmer_tf").handlers.clear()  # the runner's handler binds the current sys.stderr
    code = main.main(["main.py", *args, "--verbose", "0"])
    return code, capsys.readouterr().err


def _assert_one_line(code, stderr):
    assert code == 2 and "Traceback" not in stderr, stderr[-2000:]
    # TensorFlow's C++ log lines (E0000 ... node_def_util) reach fd 2 in-process; they are not ours
    lines = [l for l in stderr.strip().splitlines() if not re.match(r"^[EWI]\d{4} ", l)]
    errors = [l for l in lines if l.startswith("error")]
    assert errors == [lines[-1]] and errors[0].startswith("error: "), stderr[-2000:]  # one line, the last
    return errors[0]


@pytest.mark.slow  # ~9 s in a not-slow run on the shared machine
def test_a_full_disk_at_table_time_keeps_every_table_and_saves_the_rows(pickles, tmp_path, tmpfs, capsys):
    models = tmp_path / "models"
    small = tmpfs("csv_disk", "size=8k")  # room for the run-id file and one staged table, not five
    common = ["-pf", str(pickles), "-mf", str(models), *TINY, "-cf", str(small)]
    line = _assert_one_line(*_in_process(common, capsys))
    assert "No space left on device" in line and "every table is as it was" in line
    saved = models / "lf_dnn" / "unrecorded_run1.json"  # beside the tables was full: the model folder
    assert str(saved) in line and '"mae"' in saved.read_text()
    assert not [p for p in small.iterdir() if p.suffix == ".csv"] and _hidden_leftovers(small) == []
    subprocess.run(["mount", "-o", "remount,size=4m", str(small)], check=True)
    code, stderr = _in_process(common, capsys)
    assert code == 0, stderr[-2000:]
    assert len(_assert_consistent(small)) == 1  # recorded once (the rerun resumes the same run)


def test_read_only_output_folder_is_refused_before_training(pickles, tmp_path, tmpfs, capsys):
    read_only = tmpfs("ro_models", "ro,size=64k")
    line = _assert_one_line(*_in_process(["-pf", str(pickles), "-mf", str(read_only), *TINY], capsys))
    assert str(read_only) in line and "Read-only file system" in line


def test_read_only_pickle_folder_without_a_cache_is_one_line(tmp_path, tmpfs, capsys):
    read_only = tmpfs("ro_pickles", "ro,size=64k")
    line = _assert_one_line(*_in_process(["-pf", str(read_only), "-mf", str(tmp_path / "m"), *TINY], capsys))
    assert str(read_only) in line
    assert not (tmp_path / "m" / "lf_dnn" / "csv" / ".run_ids").exists()


def test_a_table_that_is_not_utf8_is_named_before_training(pickles, tmp_path, capsys):
    csv_dir = tmp_path / "models" / "lf_dnn" / "csv"
    csv_dir.mkdir(parents=True)
    (csv_dir / "classification_dominant.csv").write_bytes(b"run_id,f1_macro\n1,0.5 caf\xe9\n")
    line = _assert_one_line(*_in_process(["-pf", str(pickles), "-mf", str(tmp_path / "models"), *TINY], capsys))
    assert line.startswith(f"error: {csv_dir / 'classification_dominant.csv'}: not UTF-8")
    assert not (csv_dir / ".run_ids").exists()  # checked before training: no id taken


def test_an_artefact_that_cannot_be_written_does_not_cost_the_tables(pickles, tmp_path, capsys, monkeypatch):
    from mmer_tf import plots

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(args[1]))

    monkeypatch.setattr(plots, "plot_history", full_disk)
    models = tmp_path / "models"
    line = _assert_one_line(*_in_process(["-pf", str(pickles), "-mf", str(models), *TINY], capsys))
    assert line.startswith("error: run 1 is recorded in") and "history plot" in line and "No space left" in line
    assert _assert_consistent(models / "lf_dnn" / "csv") == [1]
    assert list((models / "lf_dnn").glob("model_*_run1.keras"))  # the recorded run keeps its model


@pytest.mark.slow  # ~12 s in a not-slow run on the shared machine
def test_a_full_disk_for_the_model_is_one_line_and_the_run_is_discarded(pickles, tmp_path, tmpfs, capsys):
    small = tmpfs("model_disk", "size=200k")  # the tables fit, the best model (about 1.8 MB) does not
    common = ["-pf", str(pickles), "-mf", str(small), *TINY]
    line = _assert_one_line(*_in_process(common, capsys))
    assert line.endswith("cannot save the best model (No space left on device)") and "_run1.keras" in line
    model_dir = small / "lf_dnn"
    assert not list(model_dir.glob("*.keras")) and _hidden_leftovers(small) == []
    assert not any((model_dir / "csv" / ".run_ids").iterdir())  # the id is given back
    subprocess.run(["mount", "-o", "remount,size=8m", str(small)], check=True)
    code, err = _in_process(common, capsys)
    assert code == 0, err[-2000:]
    assert _assert_consistent(model_dir / "csv") == [1] and _hidden_leftovers(small) == []
