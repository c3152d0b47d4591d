"""``benchmarks/bench_peers.py`` keeps running: its ``--smoke`` mode (our side, no PyTorch) in a fresh process.

The smoke run builds all five compared models at MMSA's CMU-MOSEI hyper-parameters, compiles the bare
training and inference steps, times them and writes the JSON. Its TFN parameter count is checked against
the count worked out by hand from that configuration, so a change of the hyper-parameter mapping shows.
A run asked for the peer without PyTorch or an MMSA checkout says what is missing in one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_peers.py"


def run(*args, timeout=900):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


def tfn_params_at_mmsa_mosei() -> int:
    """TFN at MMSA's MOSEI setting: text LSTM 128 + dense 128, audio 3x16, vision 3x128, post-fusion 16, 16."""
    lstm = 4 * 128 * (300 + 128 + 1)
    text = 128 * 128 + 128
    audio = (74 * 16 + 16) + 2 * (16 * 16 + 16)
    vision = (35 * 128 + 128) + 2 * (128 * 128 + 128)
    fused = (128 + 1) * (16 + 1) * (128 + 1)
    post = (fused * 16 + 16) + (16 * 16 + 16) + (16 * 6 + 6)
    return lstm + text + audio + vision + post


@pytest.mark.slow
def test_smoke_times_every_model_on_our_side(tmp_path):
    out = tmp_path / "peers.json"
    result = run("--smoke", "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    rows = {row["model"]: row for row in report["rows"]}
    assert sorted(rows) == sorted(["tfn", "lmf", "mult", "ef_lstm", "lf_dnn"])
    assert all(row["side"] == "tf" and row["train"] > 0 and row["infer"] > 0 for row in rows.values())
    assert rows["tfn"]["params"] == tfn_params_at_mmsa_mosei()
    assert "load average before" in result.stdout and "torch" not in {r["side"] for r in report["rows"]}


def test_peer_without_mmsa_checkout_says_what_is_missing(tmp_path):
    result = run("--sides", "torch", "--mmsa", str(tmp_path), timeout=120)
    assert result.returncode == 1
    missing = [line for line in result.stdout.splitlines() if line.startswith("peers: not measured:")]
    assert len(missing) == 1, result.stdout
    # Whichever is absent here (PyTorch in this interpreter, or the checkout) is named.
    assert "requirements-peers.txt" in missing[0] or "models/singleTask/TFN.py" in missing[0]
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: ")
