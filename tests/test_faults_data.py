"""Fault injection for the data side: a full disk (a 2 MB tmpfs), a read-only folder, Ctrl-C and SIGKILL at
each write stage of ``python -m mmer_tf align``, and the built-in sample and the cache on a full disk.

Every case checks what a user relies on: one ``error:`` line and a non-zero exit, no ``.partial`` file or
hidden temporary folder left behind, earlier outputs untouched, and a rerun that succeeds. Mounting a
tmpfs needs root (or CAP_SYS_ADMIN); where it is not allowed those cases are skipped with the reason.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from mmer_tf.data import cache, synthetic
from mmer_tf.formats.csd import CsdReader, write_csd
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError
from sdk_support import defective_dataset
from signal_support import default_signals

ROOT = Path(__file__).resolve().parents[1]
FILES = {
    "glove_vectors": "CMU_MOSEI_TimestampedWordVectors.csd",
    "COVAREP": "CMU_MOSEI_COVAREP.csd",
    "FACET 4.2": "CMU_MOSEI_VisualFacet42.csd",
    "All Labels": "CMU_MOSEI_Labels.csd",
}


def corpus(folder: Path, videos: int = 16) -> Path:
    """A defective MOSEI-shaped corpus; 16 videos align to ~2.5 MB of word-level output (> a 2 MB disk)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in defective_dataset(0, n_videos=videos).items():
        write_csd(folder / FILES[name], name, data)
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    return corpus(tmp_path_factory.mktemp("faults") / "in")


def mount_tmpfs(folder: Path, *options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=2m",) + options), "tmpfs", str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'mount failed'}); needs root")


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs, unmounted afterwards."""
    folder = tmp_path / "disk"
    mount_tmpfs(folder)
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def read_only(tmp_path):
    """A read-only tmpfs (root ignores chmod, a read-only mount it cannot)."""
    folder = tmp_path / "ro"
    mount_tmpfs(folder, "ro")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def align_cli(*args, env=None, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "mmer_tf", "align", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120, preexec_fn=default_signals, **kwargs)


def leftovers(folder: Path) -> list[str]:
    """Temporary or hidden things under ``folder``."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or ".partial" in p.name)


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ------------------------------------------------------------------------------------------------
# Full disk, read-only folder
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["0", "3"])
def test_align_onto_a_full_disk_is_one_line_and_leaves_nothing(inputs, small_disk, tmp_path, jobs):
    result = align_cli(inputs, small_disk / "out", "--quiet", "--jobs", jobs)
    assert result.returncode == 2
    line = one_error_line(result)
    assert "No space left on device" in line and str(small_disk / "out") in line
    assert list((small_disk / "out").iterdir()) == [] and leftovers(small_disk) == []
    rerun = align_cli(inputs, tmp_path / "out", "--quiet", "--jobs", jobs)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FILES.values())


def test_align_into_a_read_only_folder_or_onto_a_file_is_one_line(inputs, read_only, tmp_path):
    result = align_cli(inputs, read_only / "out", "--quiet")
    assert result.returncode == 2 and "Read-only file system" in one_error_line(result)
    result = align_cli(inputs, read_only, "--quiet")
    assert result.returncode == 2 and "Read-only file system" in one_error_line(result)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    result = align_cli(inputs, a_file, "--quiet")
    assert result.returncode == 2 and "is not a folder" in one_error_line(result)
    assert a_file.read_text() == "x"


def _used_bytes(folder: Path) -> int:
    stat = os.statvfs(folder)
    return (stat.f_blocks - stat.f_bfree) * stat.f_frsize


def test_builtin_sample_on_a_full_disk_is_one_error_and_leaves_no_hidden_folder(small_disk, tmp_path):
    # The default sample, as main.py generates it: large per-video arrays (HDF5's raw-data path), which
    # used to fail only when a dataset was garbage-collected: thousands of ignored tracebacks, a crash.
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from mmer_tf.data.synthetic import builtin_sample_folder\nfrom mmer_tf.errors import MmerError\n"
            "try:\n    builtin_sample_folder(%r)\nexcept MmerError as e:\n"
            "    print('error:', e, file=sys.stderr); sys.exit(2)" % (str(ROOT), str(small_disk)))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "generating the built-in" not in line]
    assert len(lines) == 1 and "No space left on device" in lines[0], result.stderr[-3000:]
    assert leftovers(small_disk) == [] and not (small_disk / "builtin_sample_240_0").exists()
    assert _used_bytes(small_disk) == 0  # nothing half-written keeps the disk full
    with pytest.raises(MmerError, match="No space left on device") as error:  # in-process: the same
        synthetic.builtin_sample_folder(small_disk, n_videos=12, seed=0)
    assert "\n" not in str(error.value) and _used_bytes(small_disk) == 0
    assert (synthetic.builtin_sample_folder(tmp_path, n_videos=3, seed=0) / "sample.json").is_file()


def test_builtin_sample_in_a_read_only_folder_is_one_error(read_only):
    with pytest.raises(MmerError, match="Read-only file system"):
        synthetic.builtin_sample_folder(read_only, n_videos=3, seed=0)


def _sets(n: int, steps: int = 200):
    rng = np.random.default_rng(0)
    ids = [f"v{i}[0]" for i in range(n)]
    features = {"audio": [rng.normal(size=(steps, 74)).astype(np.float32) for _ in ids]}
    return {"train": SegmentSet(ids=ids, features=features, labels=np.zeros((n, 7), np.float32), aligned=True)}


def test_cache_write_on_a_full_disk_is_one_error_and_removes_its_temporary(small_disk, tmp_path):
    path = small_disk / "dataset_0123.npz"
    with pytest.raises(MmerError, match="No space left on device") as error:
        cache.save_segment_sets(path, _sets(60), "d" * 64)  # ~3.5 MB
    assert "\n" not in str(error.value) and "-pf" in str(error.value)
    assert list(small_disk.iterdir()) == []
    small = cache.save_segment_sets(path, _sets(2), "e" * 64)  # the disk is usable again
    assert cache.load_segment_sets(small, "e" * 64) is not None


def test_cache_folder_that_is_a_file_or_read_only_is_one_error(read_only, tmp_path):
    with pytest.raises(MmerError, match="Read-only file system"):
        cache.save_segment_sets(read_only / "x.npz", _sets(1), "f" * 64)
    a_file = tmp_path / "pf"
    a_file.write_text("")
    with pytest.raises(MmerError, match="is a file"):
        cache.save_segment_sets(a_file / "x.npz", _sets(1), "f" * 64)


# ------------------------------------------------------------------------------------------------
# Ctrl-C and SIGKILL at each write stage
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["0", "3"])
def test_ctrl_c_while_writing_is_one_line_and_leaves_earlier_outputs(inputs, tmp_path, jobs):
    out = tmp_path / "out"
    assert align_cli(inputs, out, "--quiet", "--jobs", jobs).returncode == 0
    before = snapshot(out)
    for stage in ("start", "write", "finish"):
        result = align_cli(inputs, out, "--quiet", "--jobs", jobs, "--collapse", "none",
                           env={"MMER_FAULT": f"{stage}:INT"})
        assert result.returncode == 130, (stage, result.stderr[-2000:])
        assert "interrupted" in one_error_line(result)
        assert leftovers(out) == [] and snapshot(out) == before, stage


def _wait_until_clean(folder: Path, seconds: float = 10.0) -> list[str]:
    """Writer processes of a killed parent remove their partial files when they see it gone."""
    deadline = time.monotonic() + seconds
    while leftovers(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    return leftovers(folder)


@pytest.mark.parametrize("stage", ["write", "finish", "publish"])
def test_sigkill_at_each_stage_then_a_rerun_succeeds_and_cleans_up(inputs, tmp_path, stage):
    out = tmp_path / "out"
    killed = align_cli(inputs, out, "--quiet", "--jobs", "0", env={"MMER_FAULT": f"{stage}:KILL"})
    assert killed.returncode == -signal.SIGKILL
    assert any(".partial" in name for name in leftovers(out))  # what a killed writer cannot clean
    inputs_before = snapshot(inputs)
    rerun = align_cli(inputs, out, "--quiet", "--jobs", "0")
    assert rerun.returncode == 0, rerun.stderr
    assert leftovers(out) == [] and sorted(snapshot(out)) == sorted(FILES.values())
    assert snapshot(inputs) == inputs_before
    with CsdReader(out / FILES["COVAREP"]) as reader:
        assert len(reader) > 0


def test_sigkill_of_the_parent_makes_parallel_writers_remove_their_files(inputs, tmp_path):
    out = tmp_path / "out"
    killed = align_cli(inputs, out, "--quiet", "--jobs", "3", env={"MMER_FAULT": "write:KILL"})
    assert killed.returncode == -signal.SIGKILL
    assert _wait_until_clean(out) == []
    assert align_cli(inputs, out, "--quiet", "--jobs", "3").returncode == 0


def test_a_killed_sample_generation_leaves_a_hidden_folder_that_the_next_run_removes(tmp_path):
    code = ("import sys; sys.path.insert(0, %r); from mmer_tf.data.synthetic import builtin_sample_folder; "
            "builtin_sample_folder(%r, n_videos=40, seed=5)" % (str(ROOT), str(tmp_path)))
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".builtin_sample_40_5.*/*.csd")) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    if (tmp_path / "builtin_sample_40_5").exists():
        pytest.skip("generation finished before it could be killed")
    assert list(tmp_path.glob(".builtin_sample_40_5.*"))  # the half-written sample a kill leaves
    folder = synthetic.builtin_sample_folder(tmp_path, n_videos=40, seed=5)
    assert (folder / "sample.json").is_file()
    assert not list(tmp_path.glob(".builtin_sample_40_5.*"))


def test_a_killed_cache_write_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".dataset_0123.npz.{dead.pid}.{uuid.uuid4().hex[:8]}.partial"
    stale.write_bytes(b"half a zip")
    live = tmp_path / f".dataset_0123.npz.{os.getpid()}.abcd.partial"  # a live writer's: kept
    live.write_bytes(b"in progress")
    cache.save_segment_sets(tmp_path / "dataset_0123.npz", _sets(1), "a" * 64)
    assert not stale.exists() and live.exists()
