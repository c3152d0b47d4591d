"""Where a run's training happens: one device, every local GPU (mirrored), or many processes (data_parallel).

Why these two engines and no other: Keras 3 does not support TensorFlow's MultiWorkerMirroredStrategy
(keras-team/keras#20585), so multi-process training uses Keras' own distribution API on the JAX
backend (``keras.distribution.DataParallel`` after ``keras.distribution.initialize``), and single-process
multi-GPU training on the default TensorFlow backend uses ``tf.distribute.MirroredStrategy``, which
Keras 3 models accept when they are built and compiled inside ``strategy.scope()``.

The global batch is ``-b`` in every mode. ``mirrored`` splits each batch over the local GPUs;
``data_parallel`` gives each of the P processes ``-b / P`` rows of every global batch (Keras shards the
``tf.data`` pipeline itself: ``rebatch(-b / P)`` then ``shard(P, process_id)``), so P processes take the
same optimisation steps as one process would at ``-b``; ``-lr`` is used as given (scale it with ``-b``
yourself if you grow the batch: the linear rule ``lr * b / b0`` is the usual starting point).
In ``data_parallel`` every batch must be full on every process, so the training and validation
pipelines drop their last partial batch (``drop_remainder``); test predictions use every segment.

Process list for ``data_parallel``: ``--coordinator HOST:PORT --num_processes N --process_id I``, or,
when those are left unset, SLURM's ``SLURM_PROCID``, ``SLURM_NTASKS`` and the first host of
``SLURM_JOB_NODELIST`` (port ``MMER_COORDINATOR_PORT``, else one derived from ``SLURM_JOB_ID``).
Only process 0 writes tables, models, plots and resume state.

This module imports no backend at import time: :func:`prepare_environment` must run before Keras is
imported (it chooses JAX for ``data_parallel`` and turns on GPU memory growth).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from mmer_tf.errors import MmerError

log = logging.getLogger("mmer_tf")

KINDS = ("none", "mirrored", "data_parallel")
DEFAULT_PORT = 29471


# ------------------------------------------------------------------------------------ process list
def expand_nodelist(nodelist: str) -> list[str]:
    """Expand a SLURM host list: ``"node[01-03,07],gpu5"`` -> ``node01 node02 node03 node07 gpu5``.

    Handles several bracket groups in one name (``r[1-2]n[1-2]``), zero padding (``[08-10]``) and
    suffixes after a group (``a[1-2]-ib``), which is what ``scontrol show hostnames`` does; it is done
    here so a process needs no SLURM binaries to find its coordinator.
    """
    hosts: list[str] = []
    for item in _split_top_level(nodelist.strip()):
        if item:
            hosts.extend(_expand_host(item, nodelist))
    return hosts


def _split_top_level(text: str) -> list[str]:
    items, depth, current = [], 0, []
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    if depth != 0:
        raise MmerError(f"SLURM_JOB_NODELIST {text!r}: unbalanced brackets")
    return items


def _expand_host(item: str, whole: str) -> list[str]:
    match = re.search(r"\[([^\]]*)\]", item)
    if match is None:
        return [item]
    prefix, suffix = item[: match.start()], item[match.end():]
    names = []
    for part in match.group(1).split(","):
        bounds = part.split("-")
        if len(bounds) == 1 and bounds[0].isdigit():
            values = [bounds[0]]
        elif len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit() and int(bounds[0]) <= int(bounds[1]):
            width = len(bounds[0])
            values = [str(v).zfill(width) for v in range(int(bounds[0]), int(bounds[1]) + 1)]
        else:
            raise MmerError(f"SLURM_JOB_NODELIST {whole!r}: cannot read the range {part!r}")
        for value in values:
            names.extend(_expand_host(prefix + value + suffix, whole))
    return names


@dataclass(frozen=True)
class ProcessList:
    """Who the processes of one data_parallel run are, and which one this is."""

    coordinator: str
    num_processes: int
    process_id: int


def process_list(config, environ: Mapping[str, str] | None = None) -> ProcessList:
    """The flags where given, else SLURM's environment, else a single process."""
    env = os.environ if environ is None else environ
    num = int(config.num_processes) or int(env.get("SLURM_NTASKS", "0") or 0) or 1
    pid = int(config.process_id) if int(config.process_id) >= 0 else int(env.get("SLURM_PROCID", "0") or 0)
    coordinator = config.coordinator
    if not coordinator and num > 1:
        nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or ""
        if not nodes:
            raise MmerError("--distribution data_parallel: --num_processes > 1 needs --coordinator HOST:PORT "
                            "(or run it under SLURM, which names the hosts)")
        port = env.get("MMER_COORDINATOR_PORT") or str(20000 + int(env.get("SLURM_JOB_ID", "0") or 0) % 20000)
        coordinator = f"{expand_nodelist(nodes)[0]}:{port}"
    if coordinator and not re.fullmatch(r"[^:\s]+:\d+", coordinator):
        raise MmerError(f"--coordinator {coordinator!r}: expected HOST:PORT")
    if not 0 <= pid < num:
        raise MmerError(f"--process_id {pid}: must lie in [0, {num}) for {num} processes")
    return ProcessList(coordinator or f"127.0.0.1:{DEFAULT_PORT}", num, pid)


# ------------------------------------------------------------------------------ before the backend
def requested_kind(argv: Sequence[str]) -> str:
    """The ``--distribution`` value on a command line (``none`` when absent), read before absl parses it."""
    kind = "none"
    for i, arg in enumerate(argv):
        if arg.startswith("--distribution="):
            kind = arg.split("=", 1)[1]
        elif arg == "--distribution" and i + 1 < len(argv):
            kind = argv[i + 1]
    return kind


def prepare_environment(argv: Sequence[str], environ=None) -> None:
    """Set what must be set before Keras is imported: the backend for data_parallel, GPU memory growth.

    ``--distribution data_parallel`` needs the JAX backend: KERAS_BACKEND is set to ``jax`` when unset,
    and a different explicit choice is a one-line error. Memory growth: TensorFlow and JAX both grab
    most of a GPU's memory at start-up by default; with growth on, two runs (or TensorFlow's tf.data and
    JAX in one process) can share a GPU.
    """
    env = os.environ if environ is None else environ
    env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    kind = requested_kind(argv)
    if kind == "data_parallel":
        backend = env.get("KERAS_BACKEND", "")
        if backend and backend != "jax":
            raise MmerError(f"--distribution data_parallel: needs KERAS_BACKEND=jax, got KERAS_BACKEND={backend}")
        env["KERAS_BACKEND"] = "jax"


def configured_backend(environ=None) -> str:
    """The backend Keras will load, found as Keras finds it, without importing it: ``KERAS_BACKEND`` when
    set, else ``backend`` in ``keras.json`` under ``KERAS_HOME`` (default ``~/.keras``, ``/tmp/.keras``
    when home is read-only), else TensorFlow. Flags that need one backend are checked with it before the
    (slow) import; ``tests/test_fast_flags.py`` holds it to what Keras then reports."""
    import json

    env = os.environ if environ is None else environ
    if env.get("KERAS_BACKEND"):
        return env["KERAS_BACKEND"]
    if "KERAS_HOME" in env:
        home = env["KERAS_HOME"]
    else:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    try:
        with open(os.path.expanduser(os.path.join(home, "keras.json")), encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        return "tensorflow"
    return str(config.get("backend") or "tensorflow") if isinstance(config, dict) else "tensorflow"


def check_flags(config, environ=None) -> None:
    """One-line errors for ``--distribution`` on the wrong backend, before the backend is imported."""
    backend = configured_backend(environ)
    if config.distribution == "mirrored" and backend != "tensorflow":
        raise MmerError(f"--distribution mirrored: needs the TensorFlow backend (this run uses {backend}); "
                        "use --distribution data_parallel with JAX")


# ---------------------------------------------------------------------------------------- placement
@dataclass
class Placement:
    """What the rest of a run needs to know about how it is distributed."""

    kind: str = "none"
    num_processes: int = 1
    process_id: int = 0
    replicas: int = 1
    strategy: object = None  # tf.distribute.MirroredStrategy for "mirrored"

    @property
    def is_chief(self) -> bool:
        """Process 0: the one that writes tables, models, plots and resume state."""
        return self.process_id == 0

    @property
    def drop_remainder(self) -> bool:
        """data_parallel needs full global batches on every process (see the module docstring)."""
        return self.kind == "data_parallel"

    def scope(self):
        """Build and compile the model inside this (MirroredStrategy's scope, or nothing)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def local_model(self, model):
        """A copy of ``model`` on this process's own device, for prediction after data_parallel training.

        Keras' multi-process predict hands back arrays spread over every process, which NumPy cannot
        read; the trained weights themselves are replicated, so each process copies them into a model
        outside the distribution and predicts the whole test set locally.
        """
        if self.kind != "data_parallel" or self.num_processes == 1:
            return model
        import keras

        weights = model.get_weights()
        keras.distribution.set_distribution(None)
        copy = keras.models.clone_model(model)
        copy.set_weights(weights)
        copy.compile(loss=model.loss)  # evaluate() reports the test loss
        return copy


_CURRENT = Placement()


def current() -> Placement:
    """The placement set up by :func:`setup` in this process (single device until then)."""
    return _CURRENT


def mirrored_devices() -> list[str]:
    """The devices ``--distribution mirrored`` replicates over: every GPU TensorFlow sees."""
    import tensorflow as tf

    return [device.name for device in tf.config.list_logical_devices("GPU")]


def setup(config) -> Placement:
    """Configure the backend for ``config.distribution``; call once per process, before building the model."""
    global _CURRENT
    kind = config.distribution
    if kind not in KINDS:
        raise MmerError(f"--distribution {kind!r}: choose one of {', '.join(KINDS)}")
    if kind == "none":
        _CURRENT = Placement()
    elif kind == "mirrored":
        _CURRENT = _setup_mirrored()
    else:
        _CURRENT = _setup_data_parallel(config)
    return _CURRENT


def _setup_mirrored() -> Placement:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise MmerError(f"--distribution mirrored: needs the TensorFlow backend (KERAS_BACKEND is "
                        f"{keras.backend.backend()}); use --distribution data_parallel with JAX")
    import tensorflow as tf

    devices = mirrored_devices()
    if not devices:
        log.warning("--distribution mirrored: no GPU visible to TensorFlow (CUDA_VISIBLE_DEVICES=%s); "
                    "training on the CPU as --distribution none", os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
        return Placement(kind="none")
    strategy = tf.distribute.MirroredStrategy(devices)
    kind = "GPU" if all(":GPU:" in name for name in devices) else "CPU"
    log.info("--distribution mirrored: %d %s replica(s), global batch split across them",
             strategy.num_replicas_in_sync, kind)
    return Placement(kind="mirrored", replicas=int(strategy.num_replicas_in_sync), strategy=strategy)


def _setup_data_parallel(config) -> Placement:
    import keras

    if keras.backend.backend() != "jax":
        raise MmerError("--distribution data_parallel: needs KERAS_BACKEND=jax (main.py sets it when the flag "
                        f"is on its command line; this process has {keras.backend.backend()})")
    import jax

    # tf.data runs in the same process: keep TensorFlow off the GPUs JAX trains on.
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
    procs = process_list(config)
    if procs.num_processes > 1:
        # CPU-only processes (CI) all-reduce through gloo; GPUs use NCCL whatever this says.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        log.info("--distribution data_parallel: process %d of %d, coordinator %s", procs.process_id,
                 procs.num_processes, procs.coordinator)
        keras.distribution.initialize(procs.coordinator, procs.num_processes, procs.process_id)
    devices = keras.distribution.list_devices()
    if not any(d.lower().startswith(("gpu", "cuda")) for d in devices):
        log.info("--distribution data_parallel: no GPU visible to JAX; replicas run on CPU devices %s",
                 ",".join(devices))
    if int(config.batch_size) % len(devices):
        raise MmerError(f"-b/--batch_size {config.batch_size}: the global batch must be a multiple of the "
                        f"{len(devices)} data-parallel devices")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return Placement(kind="data_parallel", num_processes=procs.num_processes, process_id=procs.process_id,
                     replicas=len(devices))


__all__ = ["KINDS", "Placement", "ProcessList", "current", "expand_nodelist", "prepare_environment",
           "process_list", "requested_kind", "setup"]
