"""Read pickles from strangers' download links without letting them run code.

The benchmark feature files most of the field downloads (MMSA's ``aligned_50.pkl``, MultiBench's affect
pickles) are Python pickles, and ``pickle.load`` calls whatever function the file names: one crafted
``__reduce__`` is enough to run ``os.system`` on the reader's machine. :func:`load` unpickles with an
allow-list instead. Every callable or class a pickle can invoke passes through ``find_class`` (the GLOBAL,
STACK_GLOBAL, INST, OBJ and EXT opcodes all resolve through it), so refusing there stops a hostile file
before any of its calls run. What is admitted is exactly what NumPy's own pickles of arrays, dtypes and
scalars need, plus the plain containers and scalars Python itself pickles through a global under old
protocols. Persistent ids (torch's storage mechanism) are refused too.

Pickles written by Python 2 (MulT-era files) are read with ``encoding="latin1"``, the NumPy-documented
way to get their array bytes back intact.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

from mmer_tf.errors import MmerError

# (module, name) -> the object. NumPy 1.x pickles name numpy.core.*, NumPy 2 names numpy._core.*; both are
# resolved to the running NumPy's implementation (without importing the deprecated numpy.core shim).
_multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray  # type: ignore[attr-defined]
_numeric = np._core.numeric if hasattr(np, "_core") else np.core.numeric  # type: ignore[attr-defined]

ALLOWED: dict[tuple[str, str], object] = {}
for _prefix in ("numpy.core", "numpy._core"):
    ALLOWED[(f"{_prefix}.multiarray", "_reconstruct")] = _multiarray._reconstruct
    ALLOWED[(f"{_prefix}.multiarray", "scalar")] = _multiarray.scalar
    ALLOWED[(f"{_prefix}.numeric", "_frombuffer")] = _numeric._frombuffer
ALLOWED.update({
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,  # how protocol <= 2 spells a bytes object
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
})
for _builtins in ("builtins", "__builtin__"):  # protocol <= 3 spells these containers/scalars as globals
    for _name, _obj in (("set", set), ("frozenset", frozenset), ("complex", complex), ("bytearray", bytearray),
                        ("slice", slice), ("range", range)):
        ALLOWED[(_builtins, _name)] = _obj


class _Refused(pickle.UnpicklingError):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"global {module}.{name}") from None

    def persistent_load(self, pid):
        raise _Refused(f"persistent id {str(pid)[:60]!r}")


def loads(data: bytes, source: str = "<bytes>"):
    """Unpickle ``data`` admitting only NumPy arrays/dtypes/scalars and plain containers."""
    return _load(io.BytesIO(data), source)


def load(path: str | os.PathLike):
    """Unpickle the file at ``path`` (see :func:`loads`); any refusal or corruption is one MmerError line."""
    path = Path(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise MmerError(f"{path}: cannot open ({exc.strerror or exc})") from None
    with handle:
        return _load(handle, str(path))


def _load(stream, source: str):
    try:
        return _RestrictedUnpickler(stream, encoding="latin1").load()
    except _Refused as exc:
        raise MmerError(
            f"{source}: refused to unpickle: it asks for {exc.what}, which is not a NumPy array, dtype or plain "
            "container (a pickle can run code; only data pickles are read)"
        ) from None
    except MemoryError:
        raise
    except Exception as exc:  # truncated/corrupt streams raise many types (EOFError, UnpicklingError, ValueError, ...)
        raise MmerError(f"{source}: not a readable pickle ({type(exc).__name__}: {str(exc)[:120]})") from None
