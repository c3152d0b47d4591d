"""The restricted unpickler: data pickles load, pickles that would run code are refused before running it."""

from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest

from mmer_tf.data import safe_pickle
from mmer_tf.errors import MmerError


class _WritesMarker:
    """Unpickling this calls os.system, which would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _mmsa_like():
    rng = np.random.default_rng(0)
    split = lambda n: {  # noqa: E731
        "text": rng.normal(size=(n, 5, 3)).astype(np.float32),
        "audio": np.where(rng.random((n, 5, 2)) < 0.1, -np.inf, rng.normal(size=(n, 5, 2))),  # float64 with -inf
        "vision": rng.normal(size=(n, 5, 4)).astype(np.float16),
        "text_bert": rng.integers(0, 100, (n, 3, 5)),
        "raw_text": np.array([f"segment {i} words" for i in range(n)], dtype=object),
        "id": np.array([f"vid$_${i}" for i in range(n)], dtype=object),
        "regression_labels": rng.uniform(-3, 3, n).astype(np.float32),
        "audio_lengths": [int(x) for x in rng.integers(1, 6, n)],
        "flags": np.array([True, False]),
        "scalar": np.float32(1.5),
        "count": np.int64(n),
        "dtype": np.dtype("<f4"),
        "misc": (1, 2.5, "x", b"raw", None, {1, 2}, frozenset({3}), 1j, collections.OrderedDict(a=1)),
    }
    return {"train": split(7), "valid": split(3), "test": split(4)}


def _assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b) if a.dtype == object else np.array_equal(a, b, equal_nan=True)
    else:
        assert type(a) is type(b) and a == b


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_nested_numpy_data_loads_under_every_protocol(tmp_path, protocol):
    data = _mmsa_like()
    path = tmp_path / "aligned_50.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    _assert_same(data, safe_pickle.load(path))


def test_code_running_pickle_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = {"train": {"text": np.zeros((2, 3, 4), np.float32), "evil": _WritesMarker(marker)}}
    path = tmp_path / "aligned_50.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=4))
    # The oracle: plain pickle really would run it (so the refusal below is the unpickler's doing).
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_WritesMarker(control)))
    assert control.exists()

    with pytest.raises(MmerError) as info:
        safe_pickle.load(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert ("posix.system" in message) or ("os.system" in message) or ("nt.system" in message)
    assert not marker.exists()


@pytest.mark.parametrize(
    "module,name",
    [("torch._utils", "_rebuild_tensor_v2"), ("builtins", "eval"), ("numpy", "load"), ("subprocess", "Popen"),
     ("mmer_tf.data.cache", "save_segment_sets")],
)
def test_unknown_globals_are_named(module, name):
    # GLOBAL opcode + an empty tuple + REDUCE: the call that a hostile pickle makes.
    data = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R."
    with pytest.raises(MmerError, match=rf"x\.pkl: refused .*{module}\.{name}"):
        safe_pickle.loads(data, "x.pkl")


def test_persistent_ids_refused():
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return "storage" if isinstance(obj, bytes) else None

    import io

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump({"t": b"tensor bytes"})
    with pytest.raises(MmerError, match="persistent id"):
        safe_pickle.loads(buffer.getvalue(), "t.pkl")


@pytest.mark.parametrize("cut", [1, 20, -3])
def test_truncated_or_garbage_is_one_line(tmp_path, cut):
    data = pickle.dumps(_mmsa_like(), protocol=4)
    path = tmp_path / "broken.pkl"
    path.write_bytes(data[:cut] if cut > 0 else data[:cut] + b"junk")
    with pytest.raises(MmerError, match=r"broken\.pkl: not a readable pickle") as info:
        safe_pickle.load(path)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(MmerError, match="cannot open"):
        safe_pickle.load(tmp_path / "nope.pkl")
