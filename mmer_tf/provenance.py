"""What reproduces a row: the code version, the library versions, the data fingerprint and the device.

A table row is only worth comparing with another when both say what produced them. Every run's
``model_ids.csv`` row carries these columns (added by :mod:`mmer_tf.experiment`, outside the parameter
columns, so they never change a run's ``config_digest``: the same configuration run with a newer
TensorFlow is still the same configuration, and the row says which TensorFlow it was):

- ``code_version``: ``git:<commit>`` when the package is imported from a git checkout (``+dirty`` when
  tracked files differ from that commit, so an uncommitted edit is never passed off as the commit),
  else ``mmer_tf <package version>``;
- ``tensorflow_version``, ``keras_version``, ``jax_version`` (empty when not installed), read from the
  installed distributions without importing them;
- ``data_fingerprint``: the SHA-256 the fold cache is keyed by (input files' paths, sizes and mtimes plus
  every parameter that shapes the folds; :mod:`mmer_tf.data.cache`);
- ``device``: ``cpu``, or the accelerator kind and count the backend sees (``NVIDIA H200 x1``).
"""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

COLUMNS = ("code_version", "tensorflow_version", "keras_version", "jax_version", "data_fingerprint", "device")


def _distribution_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``git:<commit>[+dirty]`` inside a checkout, else ``mmer_tf <version>`` (cached per process)."""
    from mmer_tf import __version__

    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode == 0 and commit.stdout.strip():
            dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=30)
            flag = "+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else ""
            return f"git:{commit.stdout.strip()}{flag}"
    except (OSError, subprocess.SubprocessError):
        pass
    return f"mmer_tf {__version__}"


def device_kind() -> str:
    """``cpu`` or ``<accelerator name> x<count>`` as the active Keras backend sees the devices."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            devices = [d for d in jax.devices() if d.platform != "cpu"]
            if devices:
                return f"{devices[0].device_kind} x{len(devices)}"
        elif backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                name = tf.config.experimental.get_device_details(gpus[0]).get("device_name") or "GPU"
                return f"{name} x{len(gpus)}"
    except Exception:  # a broken driver must not cost the row; the backend then runs on the CPU anyway
        pass
    return "cpu"


def columns(info: dict) -> dict[str, str]:
    """The provenance columns of one run; ``info`` is :func:`mmer_tf.data.dataset.load_folds`' info."""
    return {
        "code_version": code_version(),
        "tensorflow_version": _distribution_version("tensorflow") or _distribution_version("tensorflow-cpu"),
        "keras_version": _distribution_version("keras"),
        "jax_version": _distribution_version("jax"),
        "data_fingerprint": str(info.get("data_fingerprint") or ""),
        "device": device_kind(),
    }
