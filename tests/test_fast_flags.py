"""A typo in a flag and ``--help`` answer fast: ``main.py`` parses and checks its flags before it imports
the backend, so neither TensorFlow, Keras nor JAX is loaded for them (each costs seconds and ~800 MB).

Each run is a fresh ``python -X importtime main.py ...``: its stderr lists every module the process
imported, so the test sees exactly what a user's terminal would have paid for.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "keras", "jax")
# Measured 0.3 s on the shared 2-core machine (the backend import alone took 6 s): a generous bound that
# still fails whenever the backend comes back.
WALL_LIMIT_S = 2.0


def _run_main(*args: str, env=None):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-X", "importtime", "main.py", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=env)
    wall = time.monotonic() - started
    imported, other = [], []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:"):
            imported.append(line.rsplit("|", 1)[-1].strip())
        elif line.strip():
            other.append(line)
    return proc, wall, imported, other


def _backend_modules(imported):
    return sorted(name for name in imported if name.split(".")[0] in BACKENDS)


@pytest.mark.parametrize("args, message", [
    (["-b", "0"], "error: flag --batch_size=0: 0 is not a positive integer"),
    (["--no_such_flag"], "error: Unknown command line flag 'no_such_flag'"),
    (["-mn", "nope"], "error: -mn/--model_name: unknown model 'nope'"),
    (["-mn", "mult", "--mult_heads", "7"], "error: --mult_heads: 7 heads do not divide the width --mult_d=30"),
    (["-mn", "tfn", "--tfn_text_hidden", "0"], "error: --tfn_text_hidden: must be >= 1, got 0"),
    (["--nesterov"], "error: --nesterov applies to -opt sgd only"),
    (["--lr_schedule", "step", "--lr_gamma", "2"], "error: --lr_gamma must be in (0, 1], got 2"),
    (["--label_smoothing", "0.5", "-lf", "mean_absolute_error"],
     "error: --label_smoothing: applies to cross-entropy losses, not -lf mean_absolute_error"),
    (["--freeze_branches", "2"], "error: --freeze_branches: freezes the --init_from branches; give --init_from"),
    (["--aux_loss", "foo=1"], "error: --aux_loss foo=1: foo is not among --modalities text,audio,vision"),
    (["-lf", "nope"], "error: -lf/--loss_function: unknown Keras loss 'nope'"),
    (["-a", "sigmoidd"], "error: -a/--final_activ: unknown Keras activation 'sigmoidd'"),
])
def test_a_flag_error_is_one_line_without_the_backend(args, message):
    proc, wall, imported, other = _run_main(*args)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert other == [other[0]] and other[0].startswith(message), other
    assert "mmer_tf.cli_flags" in imported  # the import log is complete: the flags module is in it
    assert _backend_modules(imported) == []
    assert wall < WALL_LIMIT_S, f"{wall:.2f} s"


def test_help_lists_every_flag_without_the_backend():
    proc, wall, imported, other = _run_main("--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert other == []
    # every model's hyper-parameters are flags, so the models' specs were read, without Keras
    for flag in ("--batch_size", "--mult_heads", "--tfn_text_hidden", "--lmf_rank", "--lfan_leader",
                 "--lr_schedule"):
        assert flag in proc.stdout, flag
    assert _backend_modules(imported) == []
    assert wall < WALL_LIMIT_S, f"{wall:.2f} s"


def test_the_loss_and_activation_names_checked_without_keras_are_exactly_keras_own():
    """``-lf``/``-a`` are checked against tables kept without Keras: they must be what this Keras resolves."""
    import keras

    from mmer_tf.keras_names import ACTIVATIONS, LOSSES

    from keras.src import activations, losses  # the tables keras.losses.get / keras.activations.get read

    def resolved(get, names):
        ok = set()
        for name in names:
            try:
                get(name)
                ok.add(name)
            except (ValueError, TypeError):
                pass
        return ok

    assert set(LOSSES) == resolved(keras.losses.get, losses.ALL_OBJECTS_DICT)
    assert set(ACTIVATIONS) == resolved(keras.activations.get, activations.ALL_OBJECTS_DICT)
    assert resolved(keras.losses.get, ["mean_absolute_errror"]) == set()  # a typo is refused by Keras too


@pytest.mark.parametrize("args, message", [
    (["--distribution", "mirrored"], "error: --distribution mirrored: needs the TensorFlow backend (this run uses jax)"),
    (["--init_from", "audio=a.keras", "--freeze_branches", "1"],
     "error: --freeze_branches: needs the TensorFlow backend (this run uses jax)"),
])
def test_a_flag_the_configured_backend_cannot_run_is_refused_without_importing_it(args, message, tmp_path):
    """The backend is read as Keras reads it (here from KERAS_HOME's keras.json), not imported."""
    (tmp_path / "keras.json").write_text('{"backend": "jax"}')
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"} | {"KERAS_HOME": str(tmp_path)}
    proc, wall, imported, other = _run_main(*args, env=env)
    assert proc.returncode == 2 and len(other) == 1 and other[0].startswith(message), proc.stderr[-2000:]
    assert _backend_modules(imported) == []
    assert wall < WALL_LIMIT_S, f"{wall:.2f} s"


@pytest.mark.slow  # one Keras import on JAX in a fresh process
def test_the_backend_read_without_keras_is_the_one_keras_loads(tmp_path):
    from mmer_tf.distributed import configured_backend

    (tmp_path / "keras.json").write_text('{"backend": "jax"}')
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"} | {"KERAS_HOME": str(tmp_path)}
    assert configured_backend(env) == "jax"
    assert configured_backend(env | {"KERAS_BACKEND": "tensorflow"}) == "tensorflow"
    assert configured_backend({"KERAS_HOME": str(tmp_path / "none")}) == "tensorflow"
    loaded = subprocess.run([sys.executable, "-c", "import keras; print(keras.backend.backend())"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert loaded.stdout.split()[-1] == configured_backend(env)
