"""Our fusion models against MMSA's PyTorch implementations of the same models, side by side, in one run.

    python benchmarks/bench_peers.py --mmsa /path/to/MMSA [--torch-python /path/to/python]
        [--models tfn,lmf,mult,ef_lstm,lf_dnn] [--batch 32] [--threads 2] [--window 3] [--rounds 3]
        [--sides tf,tf-xla,jax,torch] [--device cpu|gpu] [--json out.json]
    python benchmarks/bench_peers.py --smoke        # our side only, tiny shapes, no PyTorch: the script's own test

The peer is what a researcher would otherwise run: thuiar/MMSA's ``models/singleTask`` TFN, LMF, MULT,
EF_LSTM and LF_DNN, imported from a local checkout of that repository (``--mmsa``: the repository root or
its ``src/MMSA``), never copied into this one. PyTorch is a benchmark-only dependency
(``benchmarks/requirements-peers.txt``); it may live in another interpreter (``--torch-python``), so
the project's environment stays as pinned. When PyTorch or the checkout is missing, the script says so in
one line and measures our side alone.

What is compared, and how (each choice so the two sides do the same work):

- Inputs: identical MOSEI-shaped random batches on both sides (``--steps`` word-aligned steps; text
  300-d GloVe, audio 74-d COVAREP, vision 35-d FACET; random real lengths, padding zeroed), regenerated
  from one seed in every worker. Our models read the sequences and their masks, as in training. MMSA's
  TFN, LMF and LF_DNN read audio and vision already averaged over time, because MMSA's data loader does
  that once per data set (``need_normalized``): their batches carry the mean, computed outside the
  timing, as MMSA would.
- Hyper-parameters: MMSA's CMU-MOSEI values (``config/config_regression.json``) on both sides, where
  ours differ (the table ``MMSA_MOSEI`` below states each; our paper defaults are in
  ``mmer_tf/models``). Both sides predict ``OUTPUTS`` values with a mean-absolute-error loss and Adam.
- Loops: bare loops on both sides, no ``fit``/``predict`` per-call setup. Ours: one compiled training
  step (``tf.function``, with and without XLA's ``jit_compile``; on JAX ``jax.jit`` of
  ``stateless_call`` + ``value_and_grad`` + the optimizer's ``stateless_apply``) and one compiled
  forward pass; theirs: ``zero_grad, forward, backward, step`` and a forward under ``inference_mode``.
- Timing: each side runs in its own persistent worker process (Keras picks its backend at import, so
  TensorFlow and JAX cannot share one), pinned to the same ``--threads`` CPUs, with its framework's
  thread pools set to the same number. After warm-up (compilation), every round times each model's
  training and inference on every side for ``--window`` seconds of wall clock (whole steps; a
  device-side run is synchronised before the clock stops), sides interleaved and their order rotated
  per round; the table prints the median rate over ``--rounds`` rounds, and the ratio ours / MMSA
  (above 1: ours is faster).
- Parameters: trainable parameter counts of both sides, and their difference (the notes column says
  where the architectures differ and why the counts do).

``--device gpu`` runs both sides on the first GPU (JAX and CUDA PyTorch), and TensorFlow where it sees
one. The machine, the thread count and the load average before and after are printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ("tfn", "lmf", "mult", "ef_lstm", "lf_dnn")
MOSEI_DIMS = {"text": 300, "audio": 74, "vision": 35}
OUTPUTS = 6
LEARNING_RATE = 1e-3
SIDES = ("tf", "tf-xla", "jax", "torch")
OURS = ("tf", "tf-xla", "jax")

#: MMSA's CMU-MOSEI hyper-parameters (config/config_regression.json at a94e65d), as the MMSA argument
#: dict (``mmsa``), the same architecture in our models (``ours``: model hyper-parameters and the
#: ExperimentConfig fields -l/-n/-d), and what still differs (``notes``).
MMSA_MOSEI = {
    "tfn": {
        "mmsa": {"hidden_dims": (128, 16, 128), "text_out": 128, "post_fusion_dim": 16,
                 "dropouts": (0.4, 0.4, 0.4, 0.4)},
        "ours": {"hp": {"text_hidden": 128, "audio_hidden": 16, "vision_hidden": 128, "sub_layers": 3,
                        "post_fusion": 16, "post_layers": 2},
                 "config": {"dropout_rate": 0.4}},
        "notes": "MMSA's sub-networks add a BatchNorm on the averaged audio/vision input",
    },
    "lmf": {
        "mmsa": {"hidden_dims": (128, 16, 128), "rank": 4, "dropouts": (0.2, 0.2, 0.2, 0.2)},
        # MMSA's factors project straight to the outputs (6 wide here); ours to fusion_dim, then a head.
        "ours": {"hp": {"text_hidden": 128, "audio_hidden": 16, "vision_hidden": 128, "sub_layers": 3,
                        "rank": 4, "fusion_dim": OUTPUTS},
                 "config": {"dropout_rate": 0.2, "num_nodes": OUTPUTS}},
        "notes": "MMSA's text embedding is 64 wide (ours 128) and has no head after the factors (ours 6-6)",
    },
    "mult": {
        "mmsa": {"dst_feature_dim_nheads": (30, 6), "nlevels": 4, "conv1d_kernel_size_l": 5,
                 "conv1d_kernel_size_a": 1, "conv1d_kernel_size_v": 3, "attn_dropout": 0.4,
                 "attn_dropout_a": 0.0, "attn_dropout_v": 0.0, "relu_dropout": 0.0, "embed_dropout": 0.0,
                 "res_dropout": 0.0, "output_dropout": 0.5, "text_dropout": 0.3, "attn_mask": True,
                 "use_bert": False},
        "ours": {"hp": {"d": 30, "heads": 6, "layers": 4, "mem_layers": 3, "kernel_text": 5, "kernel_audio": 1,
                        "kernel_vision": 3, "attn_dropout": 0.4, "relu_dropout": 0.0, "res_dropout": 0.0,
                        "embed_dropout": 0.0, "out_dropout": 0.5},
                 "config": {}},
        "notes": "MMSA: valid convs (T-k+1 steps), causal mask, no positions, no padding mask; "
                 "ours: same-padded convs, key padding mask, sinusoidal positions",
    },
    "ef_lstm": {
        "mmsa": {"hidden_dims": 256, "num_layers": 2, "dropout": 0.4},
        "ours": {"hp": {"units": 256, "bidirectional": False},
                 "config": {"num_layers": 2, "num_nodes": 256, "dropout_rate": 0.4}},
        "notes": "PyTorch's LSTM has two bias vectors per gate; MMSA adds a BatchNorm over the time axis",
    },
    "lf_dnn": {
        "mmsa": {"hidden_dims": (128, 32, 128), "text_out": 128, "post_fusion_dim": 128,
                 "dropouts": (0.2, 0.2, 0.2, 0.2)},
        "ours": {"hp": {"hidden": 128, "sub_layers": 3}, "config": {"dropout_rate": 0.2, "num_nodes": 128}},
        "notes": "not like for like: MMSA reads text with an LSTM (128), ours mean-pools every modality "
                 "(one width, 128, for all three)",
    },
}

#: --smoke keeps MMSA's settings but one block per MulT transformer: tracing nine 4-block transformers
#: takes minutes on a busy 2-core machine, and the smoke run checks the code path, not the speed.
SMOKE_HP = {"mult": {"layers": 1, "mem_layers": 1}}


# ----------------------------------------------------------------------------------------------------
# shared by every worker: the data (numpy only, so the PyTorch interpreter needs nothing of ours)
# ----------------------------------------------------------------------------------------------------

def make_batches(count: int, batch: int, steps: int, seed: int = 0):
    """``count`` identical-everywhere batches: sequences with zeroed padding, float masks, targets."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        lengths = rng.integers(max(1, steps // 4), steps + 1, size=batch)
        mask = (np.arange(steps)[None, :] < lengths[:, None]).astype(np.float32)
        data = {}
        for m, d in MOSEI_DIMS.items():
            data[m] = rng.normal(size=(batch, steps, d)).astype(np.float32) * mask[:, :, None]
            data[f"{m}_mask"] = mask
        target = rng.uniform(0, 3, size=(batch, OUTPUTS)).astype(np.float32)
        out.append((data, target))
    return out


def pin_threads(threads: int) -> None:
    """Pin this process to the first ``threads`` CPUs it may use (every side gets the same ones)."""
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:threads]
        os.sched_setaffinity(0, cpus)


def warm_up(train, infer, sync, steps: int = 3) -> None:
    """A few untimed steps: compilation, and any retrace once the state's types settle after step one."""
    for i in range(steps):
        train(i)
        infer(i)
    sync()


def timed(step, sync, window: float) -> tuple[int, float]:
    """Run ``step(i)`` until ``window`` seconds pass; ``sync()`` before reading the clock. (steps, seconds)."""
    count = 0
    started = time.perf_counter()
    while True:
        step(count)
        count += 1
        if time.perf_counter() - started >= window:
            sync()
            return count, time.perf_counter() - started


# ----------------------------------------------------------------------------------------------------
# our side (Keras 3; the backend is fixed before keras is imported)
# ----------------------------------------------------------------------------------------------------

class KerasSide:
    def __init__(self, backend: str, args):
        self.backend = backend
        self.args = args
        sys.path.insert(0, str(REPO))
        import keras

        self.keras = keras
        from mmer_tf.config import ExperimentConfig
        from mmer_tf.models import registry

        self.config_cls = ExperimentConfig
        self.registry = registry
        self.models = {}
        if backend == "tensorflow":
            import tensorflow as tf

            self.tf = tf
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
            if args.device == "cpu":
                tf.config.set_visible_devices([], "GPU")
        self.batches = make_batches(args.pool, args.batch, args.steps)

    def device_name(self) -> str:
        if self.backend == "jax":
            import jax

            dev = jax.devices()[0]
            return dev.device_kind if dev.platform != "cpu" else "cpu"
        gpus = self.tf.config.list_logical_devices("GPU")
        return gpus[0].name if gpus else "cpu"

    def _build(self, name: str):
        keras = self.keras
        spec = MMSA_MOSEI[name]["ours"]
        hp = dict(spec["hp"], **(SMOKE_HP.get(name, {}) if self.args.smoke else {}))
        config = self.config_cls(model_name=name, model_hparams=hp, **spec["config"])
        keras.utils.set_random_seed(0)
        model = self.registry.build_model(config, MOSEI_DIMS, OUTPUTS)
        return model

    def setup(self, name: str, variant: str) -> dict:
        started = time.perf_counter()
        model = self._build(name)
        optimizer = self.keras.optimizers.Adam(LEARNING_RATE)
        optimizer.build(model.trainable_variables)
        loss_fn = self.keras.losses.MeanAbsoluteError()
        if self.backend == "jax":
            train, infer, sync = self._jax_steps(model, optimizer, loss_fn)
        else:
            train, infer, sync = self._tf_steps(model, optimizer, loss_fn, jit=variant == "tf-xla")
        warm_up(train, infer, sync)
        self.models[(name, variant)] = (train, infer, sync)
        params = int(sum(int(self.keras.ops.size(v)) for v in model.trainable_variables))
        return {"params": params, "setup_s": time.perf_counter() - started}

    def _tf_steps(self, model, optimizer, loss_fn, jit: bool):
        tf = self.tf
        data = [({k: tf.constant(v) for k, v in x.items()}, tf.constant(y)) for x, y in self.batches]
        variables = model.trainable_variables

        @tf.function(jit_compile=jit, reduce_retracing=True)
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            optimizer.apply(tape.gradient(loss, variables), variables)
            return loss

        @tf.function(jit_compile=jit, reduce_retracing=True)
        def infer_step(x):
            return model(x, training=False)

        last = []

        def train(i):
            x, y = data[i % len(data)]
            last[:] = [train_step(x, y)]

        def infer(i):
            last[:] = [infer_step(data[i % len(data)][0])]

        def sync():
            if last:
                last[0].numpy()

        return train, infer, sync

    def _jax_steps(self, model, optimizer, loss_fn):
        import jax

        device = jax.devices()[0]
        data = [(jax.device_put(x, device), jax.device_put(y, device)) for x, y in self.batches]

        def compute_loss(trainable, non_trainable, x, y):
            pred, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
            return loss_fn(y, pred), non_trainable

        grad_fn = jax.value_and_grad(compute_loss, has_aux=True)

        @jax.jit
        def train_step(state, x, y):
            trainable, non_trainable, opt_vars = state
            (loss, non_trainable), grads = grad_fn(trainable, non_trainable, x, y)
            trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
            return loss, (trainable, non_trainable, opt_vars)

        @jax.jit
        def infer_step(trainable, non_trainable, x):
            return model.stateless_call(trainable, non_trainable, x, training=False)[0]

        state = [([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
                  [v.value for v in optimizer.variables])]
        last = []

        def train(i):
            x, y = data[i % len(data)]
            loss, state[0] = train_step(state[0], x, y)
            last[:] = [loss]

        def infer(i):
            last[:] = [infer_step(state[0][0], state[0][1], data[i % len(data)][0])]

        def sync():
            if last:
                jax.block_until_ready(last[0])

        return train, infer, sync

    def time(self, name: str, variant: str, phase: str, window: float) -> dict:
        train, infer, sync = self.models[(name, variant)]
        steps, seconds = timed(train if phase == "train" else infer, sync, window)
        return {"steps": steps, "seconds": seconds, "rate": steps * self.args.batch / seconds}


# ----------------------------------------------------------------------------------------------------
# the peer (PyTorch, MMSA imported from the user's checkout)
# ----------------------------------------------------------------------------------------------------

def mmsa_source(path: str) -> Path:
    """The folder holding MMSA's ``models`` package: ``PATH/src/MMSA`` or ``PATH`` itself."""
    root = Path(path).expanduser()
    for candidate in (root / "src" / "MMSA", root):
        if (candidate / "models" / "singleTask" / "TFN.py").is_file():
            return candidate
    raise FileNotFoundError(f"--mmsa {path}: no models/singleTask/TFN.py under it or its src/MMSA")


def import_mmsa_models(path: str) -> dict:
    """MMSA's five model classes, imported from the checkout without running its package ``__init__``s.

    Those import every model (BERT-based ones need ``transformers`` and ``pytorch_transformers``) and the
    training code; the five models here need only ``torch``. Empty packages with the real folders as
    their ``__path__`` let the files' relative imports resolve to the checkout.
    """
    import importlib
    import types

    source = mmsa_source(path)
    for name, folder in (("MMSA", source), ("MMSA.models", source / "models"),
                         ("MMSA.models.singleTask", source / "models" / "singleTask"),
                         ("MMSA.models.subNets", source / "models" / "subNets")):
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        sys.modules[name] = package
    feature_nets = importlib.import_module("MMSA.models.subNets.FeatureNets")
    subnets = sys.modules["MMSA.models.subNets"]
    subnets.SubNet, subnets.TextSubNet = feature_nets.SubNet, feature_nets.TextSubNet
    subnets.BertTextEncoder = None  # only used with use_bert, which the MOSEI GloVe setting turns off
    classes = {}
    for key, module, cls in (("tfn", "TFN", "TFN"), ("lmf", "LMF", "LMF"), ("mult", "MULT", "MULT"),
                             ("ef_lstm", "EF_LSTM", "EF_LSTM"), ("lf_dnn", "LF_DNN", "LF_DNN")):
        classes[key] = getattr(importlib.import_module(f"MMSA.models.singleTask.{module}"), cls)
    return classes


class Args(dict):
    """MMSA reads its arguments as attributes (an EasyDict there)."""

    __getattr__ = dict.__getitem__


class TorchSide:
    def __init__(self, args):
        import torch

        self.torch = torch
        self.args = args
        torch.set_num_threads(args.threads)
        try:
            torch.set_num_interop_threads(args.threads)
        except RuntimeError:
            pass
        self.device = torch.device("cuda" if args.device == "gpu" else "cpu")
        self.classes = import_mmsa_models(args.mmsa)
        self.batches = make_batches(args.pool, args.batch, args.steps)
        self.models = {}

    def device_name(self) -> str:
        if self.device.type == "cuda":
            return self.torch.cuda.get_device_name(0)
        return "cpu"

    def _inputs(self, name: str, x: dict):
        torch = self.torch
        text = torch.tensor(x["text"], device=self.device)
        audio, vision = x["audio"], x["vision"]
        if name in ("tfn", "lmf", "lf_dnn"):  # MMSA's loader averages these over time (need_normalized)
            audio, vision = audio.mean(axis=1, keepdims=True), vision.mean(axis=1, keepdims=True)
        return text, torch.tensor(audio, device=self.device), torch.tensor(vision, device=self.device)

    def setup(self, name: str, variant: str) -> dict:
        torch = self.torch
        started = time.perf_counter()
        torch.manual_seed(0)
        args = Args(MMSA_MOSEI[name]["mmsa"])
        # EF_LSTM's BatchNorm1d normalises over the time axis: its seq_lens is one int (the aligned length).
        seq_lens = self.args.steps if name == "ef_lstm" else (self.args.steps,) * 3
        args.update(feature_dims=(MOSEI_DIMS["text"], MOSEI_DIMS["audio"], MOSEI_DIMS["vision"]),
                    seq_lens=seq_lens, num_classes=OUTPUTS, train_mode="classification")
        model = self.classes[name](args).to(self.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        loss_fn = torch.nn.L1Loss()
        data = [(self._inputs(name, x), torch.tensor(y, device=self.device)) for x, y in self.batches]

        def train(i):
            (text, audio, vision), y = data[i % len(data)]
            model.train()
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(text, audio, vision)["M"], y)
            loss.backward()
            optimizer.step()

        def infer(i):
            model.eval()
            with torch.inference_mode():
                model(*data[i % len(data)][0])["M"]

        def sync():
            if self.device.type == "cuda":
                torch.cuda.synchronize()

        warm_up(train, infer, sync)
        self.models[(name, variant)] = (train, infer, sync)
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        return {"params": int(params), "setup_s": time.perf_counter() - started}

    def time(self, name: str, variant: str, phase: str, window: float) -> dict:
        train, infer, sync = self.models[(name, variant)]
        steps, seconds = timed(train if phase == "train" else infer, sync, window)
        return {"steps": steps, "seconds": seconds, "rate": steps * self.args.batch / seconds}


# ----------------------------------------------------------------------------------------------------
# worker: one process per framework, commands on stdin, one JSON answer per line on stdout
# ----------------------------------------------------------------------------------------------------

def worker(args) -> int:
    pin_threads(args.threads)
    out = sys.stdout
    sys.stdout = sys.stderr  # frameworks' chatter must not mix with the answers
    try:
        side = TorchSide(args) if args.worker == "torch" else KerasSide(args.worker, args)
        answer = {"ok": True, "device": side.device_name(), "pid": os.getpid()}
    except Exception as error:  # reported to the parent in one line
        answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    out.write(json.dumps(answer) + "\n")
    out.flush()
    if not answer["ok"]:
        return 1
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["cmd"] == "setup":
                reply = side.setup(request["model"], request["variant"])
            else:
                reply = side.time(request["model"], request["variant"], request["phase"], request["window"])
            reply["ok"] = True
        except Exception as error:
            reply = {"ok": False, "error": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


def stamp() -> str:
    """Wall-clock time for progress lines (a slow start shows where it stood, and when)."""
    return time.strftime("%H:%M:%S")


def say(message: str) -> None:
    print(f"{stamp()} {message}", flush=True)


class Worker:
    """A running worker process and its request/answer pipe; every answer waits at most a time limit.

    A worker that does not answer in time (a compilation that never ends, a device that hangs) is killed
    and reported in one line, and the other sides go on: a run always ends with the table of what it got.
    """

    def __init__(self, kind: str, python: str, args, env: dict, timeout: float):
        command = [python, str(Path(__file__).resolve()), "--worker", kind, "--threads", str(args.threads),
                   "--batch", str(args.batch), "--steps", str(args.steps), "--pool", str(args.pool),
                   "--device", args.device]
        if args.mmsa:
            command += ["--mmsa", args.mmsa]
        if args.smoke:
            command.append("--smoke")
        self.kind = kind
        self.dead = ""
        if args.log_dir:
            Path(args.log_dir).mkdir(parents=True, exist_ok=True)
            stderr = open(Path(args.log_dir) / f"worker_{kind}.log", "w")
        else:
            stderr = None if args.verbose else subprocess.DEVNULL
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env)
        self.buffer = b""
        self.hello = self._read(timeout)

    def _read(self, timeout: float) -> dict:
        import select

        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready = select.select([self.proc.stdout], [], [], max(0.0, left))[0] if left > 0 else []
            if not ready:
                self.kill(f"no answer within {timeout:.0f} s")
                return {"ok": False, "error": self.dead}
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                self.dead = f"worker exited with status {self.proc.wait()}"
                return {"ok": False, "error": self.dead}
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def ask(self, timeout: float, **request) -> dict:
        if self.dead:
            return {"ok": False, "error": self.dead}
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except OSError as error:
            self.dead = f"worker gone ({error})"
            return {"ok": False, "error": self.dead}
        return self._read(timeout)

    def kill(self, why: str) -> None:
        self.dead = why
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.dead:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.kill("did not exit")


def worker_env(backend: str | None, args) -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONUNBUFFERED"] = "1"
    if backend:
        env["KERAS_BACKEND"] = backend
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["JAX_PLATFORMS"] = "cpu"
    else:
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(args.threads)
    # OpenMP threads (PyTorch's) spin while they wait for each other; on a machine whose cores other
    # processes also want, the spinning thread holds the core its partner needs: on the shared 2-core VM at
    # load ~5 MMSA's LF_DNN trained at 133 seg/s spinning and 612 passive (same run, same code)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def torch_missing(python: str, mmsa: str) -> str:
    """Why the peer side cannot run, in one line, or '' when it can."""
    probe = subprocess.run([python, "-c", "import torch, numpy"], capture_output=True, text=True)
    if probe.returncode:
        return (f"PyTorch (or numpy) is not importable by {python}: install benchmarks/requirements-peers.txt "
                f"there, or pass --torch-python")
    if not mmsa:
        return "no MMSA checkout: pass --mmsa PATH (a checkout of github.com/thuiar/MMSA)"
    try:
        mmsa_source(mmsa)
    except FileNotFoundError as error:
        return str(error)
    return ""


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mmsa", default="", help="local checkout of github.com/thuiar/MMSA (root or src/MMSA)")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="interpreter that has PyTorch (default: this one)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--sides", default="", help=f"comma-separated subset of {','.join(SIDES)} "
                                                    "(default: all that can run)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50, help="time steps per segment (MOSEI aligned_50)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--window", type=float, default=3.0, help="seconds of wall clock per timing")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=8, help="distinct batches cycled through")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--json", default="", help="also write every measurement to this JSON file")
    parser.add_argument("--smoke", action="store_true",
                        help="our side only (TensorFlow), tiny shapes, one short round: checks the script runs")
    parser.add_argument("--verbose", action="store_true", help="show the workers' stderr")
    parser.add_argument("--log-dir", default="", help="write each worker's stderr to DIR/worker_<kind>.log")
    parser.add_argument("--setup-timeout", type=float, default=900,
                        help="seconds a worker may take to start, or to build and compile one model")
    parser.add_argument("--deadline", type=float, default=0,
                        help="start no new round after this many seconds of the run (0: no limit)")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.batch, args.steps, args.window, args.rounds, args.pool = 4, 8, 0.05, 1, 2
        args.sides = args.sides or "tf"
    return args


def median(values):
    return statistics.median(values) if values else float("nan")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        print(f"error: --models: unknown {','.join(unknown)}; choose from {','.join(MODELS)}", file=sys.stderr)
        return 2
    wanted = [s for s in (args.sides.split(",") if args.sides else SIDES) if s]
    bad = sorted(set(wanted) - set(SIDES))
    if bad:
        print(f"error: --sides: unknown {','.join(bad)}; choose from {','.join(SIDES)}", file=sys.stderr)
        return 2
    if args.smoke:
        wanted = [s for s in wanted if s != "torch"]
    elif "torch" in wanted:
        missing = torch_missing(args.torch_python, args.mmsa)
        if missing:
            print(f"peers: not measured: {missing}", flush=True)
            wanted.remove("torch")

    started = time.monotonic()
    load_before = load_average()
    kinds = {"tf": "tensorflow", "tf-xla": "tensorflow", "jax": "jax", "torch": "torch"}
    workers: dict[str, Worker] = {}
    for side in wanted:
        kind = kinds[side]
        if kind in workers:
            continue
        python = args.torch_python if kind == "torch" else sys.executable
        say(f"starting the {kind} worker")
        w = Worker(kind, python, args, worker_env(None if kind == "torch" else kind, args), args.setup_timeout)
        if not w.hello.get("ok"):
            say(f"{side}: not measured: {w.hello.get('error')}")
            w.close()
            continue
        say(f"{kind} worker ready on {w.hello['device']} after {time.monotonic() - started:.1f} s")
        workers[kind] = w
    sides = [s for s in wanted if kinds[s] in workers]
    if not sides:
        print("error: no side could start", file=sys.stderr)
        return 1
    devices = {kind: w.hello["device"] for kind, w in workers.items()}
    say(f"machine: {cpu_name()} ({os.cpu_count()} CPUs){'' if args.device == 'cpu' else ', devices: ' + str(devices)}"
        f" | threads={args.threads} batch={args.batch} steps={args.steps} window={args.window}s "
        f"rounds={args.rounds} | load average before: {load_before}")
    run = {"machine": cpu_name(), "cpus": os.cpu_count(), "devices": devices, "threads": args.threads,
           "batch": args.batch, "steps": args.steps, "window": args.window, "rounds": args.rounds,
           "load_before": load_before, "rounds_done": 0}
    params, results, failed = {}, {}, {}

    def save(load_after: str = "") -> list:
        """The table so far (rows), written to --json after every model built and every round."""
        rows = table_rows(models, sides, params, results)
        if args.json:
            Path(args.json).write_text(json.dumps({
                **run, "load_after": load_after or load_average(), "rows": rows,
                "failed": {f"{k[0]}:{k[1]}": v for k, v in failed.items()}}, indent=1))
        return rows

    def give_up(name: str, side: str, error: str) -> None:
        """A failed model on one side; a dead worker fails every model of its sides."""
        failed[(name, side)] = error
        worker = workers[kinds[side]]
        if worker.dead:
            for other in models:
                for s in sides:
                    if kinds[s] == worker.kind:
                        failed.setdefault((other, s), worker.dead)

    for name in models:
        for side in sides:
            if (name, side) in failed:
                continue
            say(f"{name} {side}: building and compiling")
            reply = workers[kinds[side]].ask(args.setup_timeout, cmd="setup", model=name, variant=side)
            if reply["ok"]:
                params[(name, side)] = reply["params"]
                say(f"{name} {side}: built and compiled in {reply['setup_s']:.1f} s")
            else:
                give_up(name, side, reply["error"])
                say(f"{name} {side}: not measured: {reply['error']}")
        save()
    for round_index in range(args.rounds):
        if args.deadline and round_index and time.monotonic() - started > args.deadline:
            say(f"--deadline {args.deadline:.0f} s passed: {round_index} of {args.rounds} rounds")
            break
        for name in models:
            order = sides[round_index % len(sides):] + sides[: round_index % len(sides)]
            for phase in ("train", "infer"):
                for side in order:
                    if (name, side) in failed:
                        continue
                    reply = workers[kinds[side]].ask(args.window + args.setup_timeout / 4, cmd="time", model=name,
                                                     variant=side, phase=phase, window=args.window)
                    if not reply["ok"]:
                        give_up(name, side, reply["error"])
                        say(f"{name} {side} {phase}: failed: {reply['error']}")
                        continue
                    results.setdefault((name, side, phase), []).append(reply["rate"])
                    say(f"round {round_index + 1} {name} {side} {phase}: {reply['rate']:.1f} seg/s")
        run["rounds_done"] = round_index + 1
        save()
        say(f"round {round_index + 1}/{args.rounds} done (load {load_average()})")
    for w in workers.values():
        w.close()
    load_after = load_average()
    rows = save(load_after)

    peer = "torch" if "torch" in sides else None
    header = (f"{'model':<8} {'side':<7} {'params':>10} {'vs MMSA':>8} {'train seg/s':>12} {'x MMSA':>7} "
              f"{'infer seg/s':>12} {'x MMSA':>7}")
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = ["", "", ""]
        if "train_ratio" in row:
            cells = [f"{100 * row['params_diff']:+.1f}%", f"{row['train_ratio']:.2f}", f"{row['infer_ratio']:.2f}"]
        print(f"{row['model']:<8} {row['side']:<7} {row['params']:>10,} {cells[0]:>8} {row['train']:>12.1f} "
              f"{cells[1]:>7} {row['infer']:>12.1f} {cells[2]:>7}")
    print(f"load average after: {load_after}")
    if failed:
        print("not measured: " + "; ".join(f"{k[0]} {k[1]}: {v}" for k, v in failed.items()))
    if peer:
        print("\nwhere the architectures differ (MMSA's CMU-MOSEI hyper-parameters on both sides):")
        for name in models:
            print(f"  {name}: {MMSA_MOSEI[name]['notes']}")
    return 1 if failed and not rows else 0


def table_rows(models, sides, params, results) -> list:
    """One row per model and side with its median rates, and ours / MMSA where the peer ran."""
    peer = "torch" if "torch" in sides else None
    rows = []
    for name in models:
        for side in sides:
            if (name, side) not in params or (name, side, "train") not in results:
                continue
            train = median(results[(name, side, "train")])
            infer = median(results.get((name, side, "infer"), []))
            row = {"model": name, "side": side, "params": params[(name, side)], "train": train, "infer": infer,
                   "train_all": results[(name, side, "train")], "infer_all": results.get((name, side, "infer"))}
            if peer and side != peer and (name, peer, "train") in results and (name, peer) in params:
                row.update(train_ratio=train / median(results[(name, peer, "train")]),
                           infer_ratio=infer / median(results.get((name, peer, "infer"), [])),
                           params_diff=params[(name, side)] / params[(name, peer)] - 1)
            rows.append(row)
    return rows

if __name__ == "__main__":
    raise SystemExit(main())
