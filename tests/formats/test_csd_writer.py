"""CsdWriter: the direct HDF5 path and h5py's API write the same objects, any shape and dtype, and a
duplicate key or a failed write is one line with no file left behind."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from mmer_tf.formats import csd
from mmer_tf.formats.csd import CsdReader, write_csd
from mmer_tf.errors import MmerError


def entries():
    rng = np.random.default_rng(3)
    return [
        ("v[0]", np.array([[0.0, 1.0]]), rng.normal(size=(1, 300)).astype(np.float32)),
        ("v[1]", np.zeros((0, 2)), np.zeros((0, 300), np.float32)),  # an empty entry
        ("big", np.stack([np.arange(3000) / 100, np.arange(1, 3001) / 100], 1),
         rng.normal(size=(3000, 74)).astype(np.float32)),  # 888 KB: the contiguous layout
        ("f64", np.array([[0.5, 0.7], [0.7, 0.9]]), rng.normal(size=(2, 3))),
        ("ints", np.array([[0.0, 1.0]]), np.array([[1, 2, 3]], dtype=np.int64)),
        ("cube", np.array([[0.0, 1.0], [1.0, 2.0]]), rng.normal(size=(2, 2, 3)).astype(np.float32)),
        ("nan", np.array([[0.0, np.nan]]), np.array([[np.nan, -np.inf]], np.float32)),
    ]


def read_all(path):
    out = {}
    with h5py.File(path, "r") as handle:
        root = handle["seq"]
        for key, group in root["data"].items():
            out[key] = (group["intervals"][()], group["features"][()])
        meta = {k: v[()] for k, v in root["metadata"].items()}
    return out, meta


def test_direct_and_h5py_paths_write_the_same_content(tmp_path, monkeypatch):
    assert csd._HDF5Calls.load() is not None  # the fast path is what runs here
    write_csd(tmp_path / "direct.csd", "seq", entries())
    monkeypatch.setattr(csd._HDF5Calls, "_instance", None)
    write_csd(tmp_path / "h5py.csd", "seq", entries())
    a, meta_a = read_all(tmp_path / "direct.csd")
    b, meta_b = read_all(tmp_path / "h5py.csd")
    assert list(a) == list(b) and meta_a == meta_b
    for (key, intervals, features) in entries():
        for got in (a[key], b[key]):
            assert got[1].dtype == features.dtype and got[1].shape == features.shape
            np.testing.assert_array_equal(got[0], intervals)
            np.testing.assert_array_equal(got[1], features)
    with CsdReader(tmp_path / "direct.csd") as reader:
        assert reader.metadata["root name"] == "seq" and len(reader) == len(entries())


@pytest.mark.parametrize("direct", [True, False])
def test_a_key_written_twice_is_one_line_and_no_file(tmp_path, monkeypatch, direct):
    if not direct:
        monkeypatch.setattr(csd._HDF5Calls, "_instance", None)
    row = (np.zeros((1, 2)), np.zeros((1, 3), np.float32))
    with pytest.raises(MmerError, match=r"dup\.csd: video 'a' written twice"):
        write_csd(tmp_path / "dup.csd", "x", [("a", *row), ("b", *row), ("a", *row)])
    assert list(tmp_path.iterdir()) == []
