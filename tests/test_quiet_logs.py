"""A run's terminal shows the suite's own lines: TensorFlow/XLA/absl/CUDA-stub native lines never reach it.

The filter is checked byte for byte on a hand-made stream (native lines of each form dropped, fatal lines,
the suite's lines and carriage-return progress updates passed unchanged), then end to end: a training run
whose model makes TensorFlow log ``oneDNN supports DT_BOOL only ...`` mid-epoch shows none of it, and
``--verbose 2`` shows the native lines again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmer_tf.native_logs import NATIVE_LINE

ROOT = Path(__file__).resolve().parents[1]
FILTER = ROOT / "mmer_tf" / "native_logs.py"


def native_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if NATIVE_LINE.match(line.encode())]


def test_the_filter_drops_native_lines_and_passes_everything_else_unchanged():
    kept = (b"16:01:22 epoch 1/2  acc 0.75\n"
            b"aligning:   0%|          | 0/26\raligning:  23%|##        | 6/26\r"
            b"F0000 00:00:1796400080.104232   32093 check.cc:12] Check failed: fatal, shown\n"
            b"Epoch E1 is not a native line\n"
            b"error: --mult_heads: 7 heads do not divide the width --mult_d=30\n")
    dropped = (b"E0000 00:00:1796400080.104232   32093 util.cc:131] oneDNN supports DT_BOOL only on platforms "
               b"with AVX-512. Falling back to the default Eigen-based implementation if present.\n"
               b"I0000 00:00:1796398260.918228   18459 cudart_stub.cc:31] Could not find cuda drivers\n"
               b"W0000 00:00:1796398260.918228   18459 gpu_device.cc:2342] Cannot dlopen some GPU libraries.\n"
               b"2026-12-04 15:00:00.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.\n"
               b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
               b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow "
               b"with the appropriate compiler flags.\n")
    cut, first = dropped.index(b"\n", 200) + 1, kept.index(b"\n") + 1
    stream = dropped[:cut] + kept[:first] + dropped[cut:] + kept[first:]  # kept lines between native ones
    done = subprocess.run([sys.executable, "-S", "-E", str(FILTER)], input=stream, capture_output=True, timeout=60)
    assert done.returncode == 0 and done.stdout == kept


def run_main(tmp_path, *extra):
    env = {k: v for k, v in os.environ.items() if k not in ("MMER_NATIVE_LOGS", "MMER_NATIVE_FILTER")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "0"  # as a user's shell has it: nothing hidden by the environment
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "--sample_videos", "24", "-e", "1",
                           "-mn", "ef_lstm", "--ef_lstm_units", "4", "-pf", str(tmp_path / "pf"),
                           "-mf", str(tmp_path / "models"), *extra],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)


@pytest.mark.slow
def test_a_training_run_shows_no_native_line_and_verbose_2_shows_them(tmp_path):
    quiet = run_main(tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert native_lines(quiet.stderr) == [], native_lines(quiet.stderr)
    assert "epoch 1/1" in quiet.stderr and "written to" in quiet.stderr  # the suite's own lines pass
    loud = run_main(tmp_path, "--verbose", "2")
    assert loud.returncode == 0, loud.stderr[-3000:]
    assert native_lines(loud.stderr), loud.stderr[-3000:]
