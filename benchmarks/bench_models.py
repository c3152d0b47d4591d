"""Every registered model, one table, one run: parameters, FLOPs/segment, training and inference speed.

    python benchmarks/bench_models.py [--batch 32] [--segments 640] [--steps 50] [--backend tensorflow|jax]
                                      [--models mult,tfn] [--jit] [--peak-tflops T] [--scaling]

On a GPU (issue 12; the exact command is in benchmarks/README.md)::

    KERAS_BACKEND=jax python benchmarks/bench_models.py --backend jax --batch 256 --segments 8192 --scaling

Inputs are MOSEI-like random batches (text 300-d GloVe, audio 74-d COVAREP, vision 35-d FACET) on one
word-aligned time axis of ``--steps`` steps with random real lengths (masks), so every model, the
aligned-only ones included, runs on the same data. Each model is built with its paper defaults and the
generic defaults of ``ExperimentConfig`` (-l 1, -n 100, -d 0.2), compiled with Adam + MAE, warmed up
(one untimed pass, which pays tracing/compilation), then timed over ``--segments`` segments:

- train seg/s: ``model.fit`` for one epoch over the segments at ``--batch``;
- infer seg/s: ``model.predict`` over the same segments at ``--batch``.

FLOPs/seg is an analytic count of the main matrix products of one forward pass at ``--steps`` steps
(multiply-add = 2 FLOPs): Dense over every step it is applied to, LSTM gates ``2·4·u·(d_in + u)`` per
step and direction, Conv1D ``2·k·d_in·d_out`` per step, multi-head attention's four projections plus
``QKᵀ`` and ``AV`` (``2·2·Tq·Tk·heads·key_dim``), TFN's outer product and LMF's factor products.
Element-wise work (activations, norms, softmax, masks) is left out. A training step costs about
3x the forward FLOPs (forward + two backward products), which is the "train GFLOP/s" column.

Step time vs FLOP-bound time: "step ms" is the measured time of one training step at ``--batch``;
"bound ms" is what the same step would take at the device's peak, ``3 * FLOPs/seg * batch / peak``,
with the peak from ``--peak-tflops`` or, for a device this script knows, its float32 peak (the table
``PEAK_TFLOPS``; it says which it used). Their ratio, "x bound", is how far a model is from FLOP-bound
(small recurrent and element-wise work keeps most of these models far from it).

``--scaling`` (JAX, more than one device visible): each model is timed again with
``keras.distribution.DataParallel`` over all N devices at N times the batch (the per-device batch kept),
and "N-dev seg/s" and the efficiency ``rate_N / (N * rate_1)`` are printed. With one device visible it
says so and times nothing more. (On a CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=2`` makes
JAX show two devices, which checks the code path, not the speed.)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--segments", type=int, default=640, help="segments timed per model and phase")
    parser.add_argument("--steps", type=int, default=50, help="time steps per segment (padded length)")
    parser.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow")
    parser.add_argument("--models", default="", help="comma-separated subset (default: every registered model)")
    parser.add_argument("--jit", action="store_true",
                        help="compile with XLA on TensorFlow (JAX always jit-compiles: unjitted JAX is op-by-op)")
    parser.add_argument("--peak-tflops", type=float, default=0.0,
                        help="device peak (TFLOP/s) for the FLOP-bound step time (default: known float32 peak)")
    parser.add_argument("--scaling", action="store_true",
                        help="JAX: also time DataParallel over every visible device at N x the batch")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="mosei",
                        help="modality widths and per-modality lengths of the random batches (see SHAPES)")
    parser.add_argument("--first-epoch", action="store_true",
                        help="time the first epoch of a fresh model (tracing included) and a second one")
    return parser.parse_args(argv)


#: Random-batch shapes: per modality (feature width, padded steps). ``mosei``: CMU-MOSEI word-aligned
#: (GloVe 300, COVAREP 74, FACET 35; --steps each). ``ravdess-raw``: the unaligned view the default
#: feature recipe gives a 3.5 s RAVDESS clip (hashed text 256-d over ~7 words, log-mel 64-d at 100 Hz,
#: HOG 576-d at 5 fps); ``ravdess-aligned``: the same widths averaged onto the ~7 words.
SHAPES = {
    "mosei": None,
    "ravdess-raw": {"text": (256, 7), "audio": (64, 350), "vision": (576, 18)},
    "ravdess-aligned": {"text": (256, 7), "audio": (64, 7), "vision": (576, 7)},
}

#: Dense float32 (non-tensor-core) peaks, TFLOP/s, from the vendors' data sheets; CPUs are not listed.
PEAK_TFLOPS = {"H200": 67.0, "H100": 67.0, "A100": 19.5, "L40S": 91.6, "V100": 15.7}


ARGS = parse_args()
os.environ["KERAS_BACKEND"] = ARGS.backend
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import keras  # noqa: E402

from mmer_tf.config import ExperimentConfig  # noqa: E402
from mmer_tf.models import registry  # noqa: E402

MOSEI_DIMS = {"text": 300, "audio": 74, "vision": 35}
OUTPUTS = 6


def mosei_like_batch(n: int, steps: int, rng, shape: dict | None = None) -> dict:
    """Random features with per-segment real lengths between steps/4 and steps; padding is masked noise.

    ``shape`` (one of ``SHAPES``) gives each modality its own width and padded length (unaligned views);
    the real lengths keep one fraction of the padded length per segment across modalities.
    """
    shape = shape or {m: (d, steps) for m, d in MOSEI_DIMS.items()}
    fraction = rng.uniform(0.25, 1.0, size=n)
    batch = {}
    for m, (d, length) in shape.items():
        lengths = np.maximum(1, np.round(fraction * length)).astype(int)
        batch[m] = rng.normal(size=(n, length, d)).astype(np.float32)
        batch[f"{m}_mask"] = (np.arange(length)[None, :] < lengths[:, None]).astype(np.float32)
    return batch


def _concrete(shape, steps: int):
    """A symbolic shape with the batch axis dropped and unknown time axes set to ``steps``."""
    return [steps if s is None else int(s) for s in shape[1:]]


def _positions(shape, steps: int) -> int:
    """How many vectors a layer applied on the last axis processes per segment."""
    return math.prod(_concrete(shape, steps)[:-1]) if len(shape) > 2 else 1


def _lstm_flops(lstm, input_shape, steps: int) -> int:
    dims = _concrete(input_shape, steps)
    return 2 * 4 * lstm.units * (dims[-1] + lstm.units) * dims[0]


def _input_shape(layer):
    """Shape of the first positional input of the layer's first call (masks passed as kwargs excluded)."""
    first = layer._inbound_nodes[0].arguments.args[0]
    return (first[0] if isinstance(first, (list, tuple)) else first).shape


def layer_flops(layer, steps: int) -> int:
    """Forward FLOPs per segment of the main matrix products of one layer (0 for element-wise layers)."""
    name = type(layer).__name__
    if name == "Dense":
        shape = _input_shape(layer)
        return 2 * int(shape[-1]) * layer.units * _positions(shape, steps)
    if name == "Conv1D":
        shape = _input_shape(layer)
        return 2 * layer.kernel_size[0] * int(shape[-1]) * layer.filters * _concrete(shape, steps)[0]
    if name == "LSTM":
        return _lstm_flops(layer, _input_shape(layer), steps)
    if name == "ProjectedLSTM":
        return _lstm_flops(layer, _input_shape(layer), steps) * layer.directions
    if name == "Bidirectional":
        shape = _input_shape(layer)
        return _lstm_flops(layer.forward_layer, shape, steps) + _lstm_flops(layer.backward_layer, shape, steps)
    if name == "MultiHeadAttention":
        args = layer._inbound_nodes[0].arguments.args
        query, value = args[0], args[1]
        tq, dq = _concrete(query.shape, steps)
        tk, dk = _concrete(value.shape, steps)
        inner = layer.num_heads * layer.key_dim
        projections = 2 * inner * (tq * dq + 2 * tk * dk) + 2 * inner * tq * dq
        return projections + 2 * 2 * tq * tk * inner
    if name == "TensorFusion":
        return int(layer.output.shape[-1])  # one multiply per element of the outer product
    if name == "TensorFusionDense":  # the dense layer on the tensor; the later contractions are ~1/width of it
        return 2 * int(layer.kernel.shape[0]) * layer.units
    if name == "LowRankFusion":
        shapes = [t.shape for t in layer._inbound_nodes[0].arguments.keras_tensors]
        return sum(2 * layer.rank * (int(s[-1]) + 1) * layer.output_dim for s in shapes)
    return 0


def model_flops(model, steps: int) -> int:
    return sum(layer_flops(layer, steps) for layer in model.layers)


def bench_model(name: str, args, batch: dict, target: np.ndarray, batch_size: int | None = None) -> dict:
    batch_size = batch_size or args.batch
    config = ExperimentConfig(model_name=name)
    keras.utils.set_random_seed(0)
    model = registry.build_model(config, MOSEI_DIMS, OUTPUTS)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mean_absolute_error",
                  jit_compile=args.jit or args.backend == "jax")
    warm = {k: v[: 2 * batch_size] for k, v in batch.items()}
    model.fit(warm, target[: 2 * batch_size], batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    model.predict(warm, batch_size=batch_size, verbose=0)

    started = time.perf_counter()
    model.fit(batch, target, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    train_rate = len(target) / (time.perf_counter() - started)
    started = time.perf_counter()
    model.predict(batch, batch_size=batch_size, verbose=0)
    infer_rate = len(target) / (time.perf_counter() - started)
    flops = model_flops(model, args.steps)
    return {"model": name, "params": model.count_params(), "mflops": flops / 1e6, "train": train_rate,
            "infer": infer_rate, "train_gflops": 3 * flops * train_rate / 1e9,
            "step_ms": 1e3 * batch_size / train_rate, "flops": flops}


def first_epochs(name: str, args, batch: dict, target: np.ndarray) -> dict:
    """Wall seconds of a fresh model's first ``fit`` epoch (tracing/compilation included) and of a second one.

    What a user waits for: the first epoch pays building the training graph (and, on TensorFlow, a
    retrace for every new batch shape: the last, smaller batch), the second one the steps alone.
    """
    config = ExperimentConfig(model_name=name)
    keras.utils.set_random_seed(0)
    dims = {m: int(v.shape[-1]) for m, v in batch.items() if not m.endswith("_mask")}
    started = time.perf_counter()
    model = registry.build_model(config, dims, OUTPUTS)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mean_absolute_error",
                  jit_compile=args.jit or args.backend == "jax")
    times = []
    for _ in range(2):
        model.fit(batch, target, batch_size=args.batch, epochs=1, verbose=0, shuffle=False)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
    return {"model": name, "params": model.count_params(), "first": times[0], "second": times[1]}


def device_description() -> tuple[str, int]:
    """(name of the first accelerator or "cpu", number of devices the backend sees)."""
    if keras.backend.backend() == "jax":
        import jax

        devices = jax.devices()
        return (devices[0].device_kind if devices[0].platform != "cpu" else "cpu"), len(devices)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "cpu", 1
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "gpu"), len(gpus)


def peak_tflops(args, device: str) -> tuple[float, str]:
    if args.peak_tflops > 0:
        return args.peak_tflops, "--peak-tflops"
    for key, value in PEAK_TFLOPS.items():
        if key.lower() in device.lower():
            return value, f"{key} float32 data sheet"
    return 0.0, "unknown device: pass --peak-tflops"


def scaled_rate(name: str, args, batch: dict, target: np.ndarray, devices: int) -> float:
    """Train seg/s with DataParallel over every device at ``devices`` x the batch (per-device batch kept)."""
    distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    keras.distribution.set_distribution(distribution)
    try:
        return bench_model(name, args, batch, target, batch_size=args.batch * devices)["train"]
    finally:
        keras.distribution.set_distribution(None)


def main() -> int:
    args = ARGS
    names = [n for n in args.models.split(",") if n] or list(registry.available())
    rng = np.random.default_rng(0)
    batch = mosei_like_batch(args.segments, args.steps, rng, SHAPES[args.shape])
    target = rng.uniform(0, 3, size=(args.segments, OUTPUTS)).astype(np.float32)
    if args.first_epoch:
        lengths = ", ".join(f"{m} {v.shape[1]}x{v.shape[2]}" for m, v in batch.items() if not m.endswith("_mask"))
        print(f"backend={keras.backend.backend()} shape={args.shape} ({lengths}) segments={args.segments} "
              f"batch={args.batch} jit={args.jit or args.backend == 'jax'} load={os.getloadavg()[0]:.2f}")
        print(f"{'model':<12} {'params':>11} {'epoch 1 s':>10} {'epoch 2 s':>10} {'1 / 2':>6}")
        for name in names:
            row = first_epochs(name, args, batch, target)
            print(f"{name:<12} {row['params']:>11,} {row['first']:>10.1f} {row['second']:>10.1f} "
                  f"{row['first'] / row['second']:>6.1f}", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return 0
    device, count = device_description()
    peak, peak_source = peak_tflops(args, device)
    print(f"backend={keras.backend.backend()} keras={keras.__version__} batch={args.batch} "
          f"segments={args.segments} steps={args.steps} jit={args.jit or args.backend == 'jax'} cpus={os.cpu_count()} "
          f"device={device} devices={count} peak={peak:g} TFLOP/s ({peak_source})", flush=True)
    scaling = args.scaling and args.backend == "jax" and count > 1
    if args.scaling and not scaling:
        print(f"--scaling: {count} device visible to {args.backend}; nothing to scale over", flush=True)
    header = f"{'model':<12} {'params':>11} {'MFLOP/seg':>10} {'train seg/s':>12} {'infer seg/s':>12} " \
             f"{'train GFLOP/s':>14} {'step ms':>9} {'bound ms':>9} {'x bound':>8}"
    if scaling:
        header += f" {f'{count}-dev seg/s':>13} {'efficiency':>10}"
    print(header)
    print("-" * len(header))
    for name in names:
        row = bench_model(name, args, batch, target)
        bound_ms = 1e3 * 3 * row["flops"] * args.batch / (peak * 1e12) if peak else float("nan")
        line = (f"{row['model']:<12} {row['params']:>11,} {row['mflops']:>10.2f} {row['train']:>12.1f} "
                f"{row['infer']:>12.1f} {row['train_gflops']:>14.2f} {row['step_ms']:>9.3f} {bound_ms:>9.4f} "
                f"{row['step_ms'] / bound_ms:>8.1f}")
        if scaling:
            # N x the batch needs N x the segments for the same number of steps.
            big = {k: np.concatenate([v] * count) for k, v in batch.items()}
            rate = scaled_rate(name, args, big, np.concatenate([target] * count), count)
            line += f" {rate:>13.1f} {rate / (count * row['train']):>10.2f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
