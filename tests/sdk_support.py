"""Import the CMU Multimodal SDK's ``mmdatasdk`` for equivalence tests and the alignment benchmark.

The SDK is not a dependency of mmer_tf: tests that compare against it are skipped (with the reason
printed by ``pytest -rs``) when it cannot be imported. Point ``$MMER_SDK_PATH`` at a directory that
contains the ``mmsdk`` package (e.g. ``git -C <sdk mirror> archive HEAD mmsdk | tar -x -C /tmp/sdk``),
or install it normally. Its ``mmdatasdk`` needs ``validators`` and ``colorama`` (not torch).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

import numpy as np


def load_mmdatasdk(path: str | os.PathLike | None = None):
    """Return ``(module, None)`` or ``(None, reason)``; ``path`` overrides ``$MMER_SDK_PATH``."""
    root = path or os.environ.get("MMER_SDK_PATH")
    if root:
        root = str(Path(root).resolve())
        if not (Path(root) / "mmsdk").is_dir():
            return None, f"MMER_SDK_PATH={root} has no mmsdk package"
        if root not in sys.path:
            sys.path.insert(0, root)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mmsdk import mmdatasdk  # noqa: WPS433 (optional import)
    except Exception as exc:  # ImportError, or a missing dependency of the SDK
        where = f" from {root}" if root else " (set MMER_SDK_PATH to a directory holding mmsdk/)"
        return None, f"CMU Multimodal SDK not importable{where}: {type(exc).__name__}: {exc}"
    return mmdatasdk, None


@contextlib.contextmanager
def quiet():
    """Silence the SDK's status lines and tqdm bars. Its ``log`` functions bind ``sys.stdout`` as a
    default argument at import, so redirecting ``sys.stdout`` is not enough: file descriptors 1 and 2
    are pointed at ``/dev/null`` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved + [devnull]:
            os.close(fd)


def sdk_dataset(mmdatasdk, files: dict[str, str | os.PathLike]):
    """An ``mmdataset`` built from ``{sequence name: .csd path}`` (not from a folder: under h5py 3
    the SDK would name the sequences ``"b'...'"`` from undecoded metadata)."""
    with quiet():
        return mmdatasdk.mmdataset({name: str(path) for name, path in files.items()})


def sdk_contents(dataset, name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{key: (intervals, features)}`` of one sequence of an SDK dataset, as NumPy arrays."""
    data = dataset[name].data
    return {key: (np.asarray(entry["intervals"]), np.asarray(entry["features"])) for key, entry in data.items()}


def sdk_mean(intervals, features):
    """The SDK examples' collapse function (``process_mosei.py``'s ``myavg``)."""
    return np.average(features, axis=0)
