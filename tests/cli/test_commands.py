"""``python -m mmer_tf <command>``: the commands are the modules of ``mmer_tf/cli/``, listed with one line each,
each answering ``--help`` without loading the backend, and every command's errors are one line.

Each run is a fresh ``python -X importtime -m ...`` so the test sees what a user's terminal would pay for.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMMANDS = sorted(p.stem for p in (REPO / "mmer_tf" / "cli").glob("*.py") if not p.stem.startswith("_"))
BACKENDS = ("tensorflow", "keras", "jax")


def _run(*args: str):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    other = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("import time:")]
    return proc, imported, other


def test_help_lists_every_command_module_with_its_summary():
    assert {"align", "compare", "evaluate", "featurize", "predict", "report", "results", "search",
            "sweep"} <= set(COMMANDS)
    proc, imported, other = _run("mmer_tf", "--help")
    assert proc.returncode == 0 and other == [], proc.stderr[-2000:]
    listed = {line.split()[0]: line.split(None, 1)[1] for line in proc.stdout.splitlines() if line.startswith("  ")}
    assert sorted(listed) == COMMANDS
    assert listed["align"].startswith("Align every .csd")
    assert "python main.py" in proc.stdout  # training is named too
    assert not [m for m in imported if m.split(".")[0] in BACKENDS]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_answers_help_without_the_backend(command):
    proc, imported, _ = _run("mmer_tf", command, "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"usage: python -m mmer_tf {command} ")
    assert not [m for m in imported if m.split(".")[0] in BACKENDS], command


def test_unknown_command_and_no_command_are_refused():
    proc, _, other = _run("mmer_tf", "alignn")
    assert proc.returncode == 2 and len(other) == 1
    assert other[0].startswith("error: unknown command 'alignn'; choose one of align, ")
    proc, _, other = _run("mmer_tf")
    assert proc.returncode == 2 and other[0].startswith("usage: python -m mmer_tf <command>")


def test_both_spellings_run_the_same_command_with_the_same_one_line_error(tmp_path):
    missing = tmp_path / "no such dir"
    via_package, _, other_a = _run("mmer_tf", "compare", str(missing))
    direct, _, other_b = _run("mmer_tf.cli.compare", str(missing))
    assert via_package.returncode == direct.returncode == 1
    assert other_a == other_b == [f"error: {missing}: no such folder"]


def test_report_errors_turns_each_failure_into_one_line_and_its_exit_code(capsys):
    from mmer_tf.errors import EXIT_INTERRUPTED, MmerError, report_errors

    def raising(exc):
        def body():
            raise exc
        return body

    assert report_errors(lambda: 0) == 0
    assert report_errors(raising(MmerError("--top 0: must be at least 1")), error_exit=1) == 1
    assert capsys.readouterr().err == "error: --top 0: must be at least 1\n"
    assert report_errors(raising(PermissionError(13, "Permission denied", "/ro/x.csv"))) == 2
    assert capsys.readouterr().err == "error: /ro/x.csv: Permission denied\n"
    assert report_errors(raising(KeyboardInterrupt()), interrupted="interrupted: kept") == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "interrupted: kept\n"
