"""The .npz + JSON fold cache: exact round trip, fingerprints, corrupt entries, no pickle."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from mmer_tf.data import cache
from mmer_tf.data.segments import SegmentSet


def _set(rng, ids, aligned=True):
    lengths = rng.integers(1, 9, len(ids))
    lengths[0] = 0  # an empty segment survives too
    features = {
        "text": [rng.normal(size=(n, 5)).astype(np.float32) for n in lengths],
        "audio": [rng.normal(size=(n, 3)).astype(np.float32) for n in lengths],
    }
    features["audio"][1][0, 0] = np.nan  # raw values, NaN included, are stored as they are
    return SegmentSet(ids=ids, features=features, labels=rng.normal(size=(len(ids), 7)), aligned=aligned, info={"k": 1})


@pytest.fixture
def sets():
    rng = np.random.default_rng(7)
    return {
        "train": _set(rng, ["zk2jTlAtvSU[1]", "vidé[0]", "a[2]", "a[10]"]),
        "valid": _set(rng, ["b[0]", "b[1]"], aligned=False),
    }


def test_round_trip_is_exact(tmp_path, sets):
    path = cache.cache_path(tmp_path, "folds", "f" * 64)
    assert path == tmp_path / f"folds_{'f' * 16}.npz"
    cache.save_segment_sets(path, sets, "f" * 64, {"note": "x"})
    loaded, manifest = cache.load_segment_sets(path, "f" * 64)
    assert manifest["extra"] == {"note": "x"} and manifest["fingerprint"] == "f" * 64
    assert loaded.keys() == sets.keys()
    for name in sets:
        a, b = sets[name], loaded[name]
        assert b.ids == a.ids and b.aligned == a.aligned and b.info == a.info
        assert np.array_equal(b.labels, a.labels) and b.labels.dtype == np.float32
        for m in a.features:
            assert len(b.features[m]) == len(a.features[m])
            for x, y in zip(a.features[m], b.features[m]):
                assert y.dtype == np.float32 and y.shape == x.shape
                assert np.array_equal(x, y, equal_nan=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, path.with_suffix(".json").name])


def test_cache_holds_no_pickled_objects(tmp_path, sets):
    path = tmp_path / "c.npz"
    cache.save_segment_sets(path, sets, "a" * 64)
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            assert npz[key].dtype.kind != "O", key
    # an .npz with an object array in the cache's place is refused (allow_pickle=False), not executed
    good = json.loads(path.with_suffix(".json").read_text())
    with open(path, "wb") as handle:
        np.savez(handle, **{"train__ids": np.array([object()], dtype=object)})
    good["npz_size"] = path.stat().st_size
    path.with_suffix(".json").write_text(json.dumps(good))
    assert cache.load_segment_sets(path, "a" * 64) is None


def test_missing_entry_is_a_plain_miss(tmp_path):
    assert cache.load_segment_sets(tmp_path / "nothing.npz", "a" * 64) is None


def test_truncated_cache_is_discarded_with_a_warning_and_rebuilt(tmp_path, sets, caplog):
    path = tmp_path / "c.npz"
    cache.save_segment_sets(path, sets, "a" * 64)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert cache.load_segment_sets(path, "a" * 64) is None
    assert "unusable" in caplog.text and not path.exists() and not path.with_suffix(".json").exists()
    cache.save_segment_sets(path, sets, "a" * 64)
    assert cache.load_segment_sets(path, "a" * 64) is not None


def test_corrupt_bytes_of_the_same_size_are_caught(tmp_path, sets):
    path = tmp_path / "c.npz"
    cache.save_segment_sets(path, sets, "a" * 64)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("train__text__data.npy")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + 200  # inside the stored array bytes
    data[start : start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    assert cache.load_segment_sets(path, "a" * 64) is None  # zip CRC check fails


def test_manifest_for_another_fingerprint_is_not_served(tmp_path, sets):
    path = tmp_path / "c.npz"
    cache.save_segment_sets(path, sets, "a" * 64)
    assert cache.load_segment_sets(path, "b" * 64) is None


def test_fingerprint_changes_with_any_file_or_parameter(tmp_path):
    a, b = tmp_path / "a.csd", tmp_path / "b.csd"
    a.write_bytes(b"1234")
    b.write_bytes(b"abcd")
    params = {"image_feature": "facet", "align_to_text": True, "normalization": "train"}
    base = cache.fingerprint([a, b], params)
    assert base == cache.fingerprint([b, a], dict(reversed(list(params.items()))))  # order-independent
    assert len(base) == 64
    for key, value in (("image_feature", "openface"), ("align_to_text", False), ("normalization", "segment")):
        assert cache.fingerprint([a, b], {**params, key: value}) != base, key
    assert cache.fingerprint([a, b], {**params, "extra": 1}) != base
    assert cache.fingerprint([a], params) != base
    stat = a.stat()
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))  # touched: same size, new mtime
    touched = cache.fingerprint([a, b], params)
    assert touched != base
    a.write_bytes(b"12345")
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))  # same mtime, new size
    assert cache.fingerprint([a, b], params) not in (base, touched)
