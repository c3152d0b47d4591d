"""--distribution: SLURM host lists, the process list, the backend choice, (seed, epoch) shuffles, and two
local JAX processes training data-parallel over loopback (gloo) to the metrics of one process."""

from __future__ import annotations

import csv
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmer_tf import distributed
from mmer_tf.config import ExperimentConfig
from mmer_tf.errors import MmerError

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------ host lists
@pytest.mark.parametrize("nodelist, hosts", [
    ("node01", ["node01"]),
    ("node[01-04]", ["node01", "node02", "node03", "node04"]),
    ("node[08-10,12],gpu5", ["node08", "node09", "node10", "node12", "gpu5"]),
    ("a[1-2]-ib,b3", ["a1-ib", "a2-ib", "b3"]),
    ("r[1-2]n[3,5]", ["r1n3", "r1n5", "r2n3", "r2n5"]),
    ("c[7]", ["c7"]),
])
def test_slurm_nodelists_expand_like_scontrol_show_hostnames(nodelist, hosts):
    assert distributed.expand_nodelist(nodelist) == hosts


@pytest.mark.parametrize("bad", ["node[01-", "node[3-1]", "node[a-b]"])
def test_bad_nodelists_are_one_line_errors(bad):
    with pytest.raises(MmerError, match="SLURM_JOB_NODELIST"):
        distributed.expand_nodelist(bad)


def test_process_list_from_slurm_then_flags():
    config = ExperimentConfig()
    env = {"SLURM_NTASKS": "4", "SLURM_PROCID": "2", "SLURM_JOB_NODELIST": "gpu[07-08]", "SLURM_JOB_ID": "12345"}
    assert distributed.process_list(config, env) == distributed.ProcessList("gpu07:32345", 4, 2)
    env["MMER_COORDINATOR_PORT"] = "4000"
    assert distributed.process_list(config, env).coordinator == "gpu07:4000"
    flagged = config.replace(coordinator="10.0.0.1:1234", num_processes=2, process_id=1)
    assert distributed.process_list(flagged, env) == distributed.ProcessList("10.0.0.1:1234", 2, 1)
    assert distributed.process_list(config, {}).num_processes == 1  # no SLURM, no flags: one process
    with pytest.raises(MmerError, match="--coordinator"):
        distributed.process_list(config.replace(num_processes=2), {})
    with pytest.raises(MmerError, match="HOST:PORT"):
        distributed.process_list(config.replace(coordinator="nohost", num_processes=2, process_id=0), {})
    with pytest.raises(MmerError, match="--process_id 3"):
        distributed.process_list(flagged.replace(process_id=3), {})


@pytest.mark.slow
def test_data_parallel_on_the_command_line_chooses_jax_before_keras_is_imported():
    env = {}
    distributed.prepare_environment(["main.py", "--distribution", "data_parallel"], env)
    assert env["KERAS_BACKEND"] == "jax" and env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    env = {"KERAS_BACKEND": "tensorflow"}
    distributed.prepare_environment(["main.py", "-e", "1"], env)
    assert env["KERAS_BACKEND"] == "tensorflow"
    with pytest.raises(MmerError, match="needs KERAS_BACKEND=jax"):
        distributed.prepare_environment(["main.py", "--distribution=data_parallel"], env)
    assert distributed.requested_kind(["m", "--distribution=mirrored"]) == "mirrored"


def test_mirrored_without_a_gpu_says_so_in_one_line_and_trains_as_none(caplog):
    import keras

    if keras.backend.backend() != "tensorflow" or distributed.mirrored_devices():
        pytest.skip("needs the TensorFlow backend on a machine without a GPU")
    with caplog.at_level(logging.WARNING, logger="mmer_tf"):
        placement = distributed.setup(ExperimentConfig(distribution="mirrored"))
    assert placement.kind == "none" and placement.is_chief and not placement.drop_remainder
    lines = [r.getMessage() for r in caplog.records if "mirrored" in r.getMessage()]
    assert len(lines) == 1 and "no GPU visible" in lines[0]
    distributed.setup(ExperimentConfig())


# --------------------------------------------------------------------------- (seed, epoch) shuffles
def test_epoch_order_is_a_function_of_seed_and_epoch_only():
    from mmer_tf.data.pipeline import epoch_order, make_dataset, set_epoch
    from mmer_tf.data.segments import SegmentSet

    n = 37
    orders = [epoch_order(n, 5, k) for k in range(4)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(n))
    assert len({tuple(o) for o in orders}) == 4
    np.testing.assert_array_equal(epoch_order(n, 5, 3), orders[3])  # no hidden state
    assert not np.array_equal(epoch_order(n, 6, 3), orders[3])

    seg = SegmentSet(ids=[f"v[{i}]" for i in range(n)],
                     features={"text": [np.full((2, 3), i, np.float32) for i in range(n)]},
                     labels=np.zeros((n, 7)), aligned=True)
    dataset = make_dataset(seg, np.arange(n, dtype=np.float32)[:, None], batch_size=8, shuffle=True, seed=5)

    def one_epoch():
        return np.concatenate([y[:, 0] for _, y in dataset]).astype(int)

    np.testing.assert_array_equal(one_epoch(), orders[0])  # iterations count epochs by themselves
    np.testing.assert_array_equal(one_epoch(), orders[1])
    assert set_epoch(dataset, 3)  # a process resumed at epoch 3 sees epoch 3's order first
    np.testing.assert_array_equal(one_epoch(), orders[3])
    unshuffled = make_dataset(seg, np.zeros((n, 1)), batch_size=8, shuffle=False, seed=5)
    assert not set_epoch(unshuffled, 1)


# ---------------------------------------------------------------------- two processes vs one
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rows(folder: Path, table: str) -> list[dict]:
    with open(folder / "lf_dnn" / "csv" / f"{table}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


METRIC_TABLES = ("regression", "classification_score_coarse", "classification_presence", "classification_dominant")
#: Metrics are written with 3 decimals; summing a batch's gradient over two processes instead of one
#: may change float32 round-off, so values may differ by one unit in the last written decimal.
TOLERANCE = 2e-3


@pytest.mark.slow
def test_two_jax_processes_train_like_one_with_the_same_global_batch(tmp_path):
    pytest.importorskip("jax")
    from mmer_tf.data import dataset

    pickles = tmp_path / "pf"
    dataset.load_folds(ExperimentConfig(sample_videos=24, pickle_folder=str(pickles), verbose=0), progress=False)
    # -s 20: fixed shapes, so JAX compiles each step once. -b 8 is the global batch in both runs.
    common = [sys.executable, str(REPO / "main.py"), "--sample_videos", "24", "-e", "2", "-b", "8", "-s", "20",
              "-mn", "lf_dnn", "-pf", str(pickles), "--distribution", "data_parallel"]
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND" and not k.startswith("SLURM_")}
    port = _free_port()
    two = [subprocess.Popen(common + ["-mf", str(tmp_path / "two"), "--coordinator", f"127.0.0.1:{port}",
                                      "--num_processes", "2", "--process_id", str(i)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    one = subprocess.run(common + ["-mf", str(tmp_path / "one")], env=env, capture_output=True, text=True,
                         timeout=600)
    outs = [p.communicate(timeout=600) for p in two]
    assert one.returncode == 0, one.stderr[-3000:]
    for proc, (_, err) in zip(two, outs):
        assert proc.returncode == 0, err[-3000:]
    assert "process 1 of 2" in outs[1][1] and "process 0 of 2" in outs[0][1]

    ids_two = _rows(tmp_path / "two", "model_ids")
    assert len(ids_two) == 1, "only process 0 writes a row"
    assert ids_two[0]["keras_backend"] == "jax" and ids_two[0]["distribution"] == "data_parallel"
    assert ids_two[0]["config_digest"] == _rows(tmp_path / "one", "model_ids")[0]["config_digest"]
    assert len(list((tmp_path / "two" / "lf_dnn").glob("*.keras"))) == 1
    for table in METRIC_TABLES:
        got, want = _rows(tmp_path / "two", table), _rows(tmp_path / "one", table)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            for column, value in w.items():
                if column == "run_id" or value in ("", "nan"):
                    continue
                assert abs(float(g[column]) - float(value)) <= TOLERANCE, (table, column, g[column], value)


@pytest.mark.slow
def test_mirrored_trains_in_the_strategy_scope_and_resumes_there(tmp_path):
    """The whole mirrored path (build/compile in MirroredStrategy's scope, restore in it, predict) over two
    logical CPU devices (a hook of tests/main_with_hooks.py; on a cluster they are the GPUs), killed after
    epoch 1 of 2 and resumed to one row."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("mirrored needs the TensorFlow backend")
    from mmer_tf.data import dataset

    pickles = tmp_path / "pf"
    dataset.load_folds(ExperimentConfig(sample_videos=24, pickle_folder=str(pickles), verbose=0), progress=False)
    command = [sys.executable, str(REPO / "tests" / "main_with_hooks.py"), "--sample_videos", "24", "-e", "2",
               "-b", "8", "-mn", "lf_dnn", "-pf", str(pickles), "-mf", str(tmp_path / "m"), "--distribution", "mirrored"]
    env = {**os.environ, "MMER_HOOK_MIRRORED_CPUS": "2"}  # tests/main_with_hooks.py: two logical CPUs
    killed = subprocess.run(command, env={**env, "MMER_HOOK_KILL_AFTER_EPOCH": "1"}, capture_output=True,
                            text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert "2 CPU replica(s)" in killed.stderr
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 epoch(s) done" in resumed.stderr and "epoch 2/2" in resumed.stderr
    ids = _rows(tmp_path / "m", "model_ids")
    assert len(ids) == 1 and ids[0]["distribution"] == "mirrored" and ids[0]["epochs_run"] == "2"
