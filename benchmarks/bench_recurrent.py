"""Keras' LSTM against ``ProjectedLSTM`` (all steps' input projection in one product), same weights, same data.

    python benchmarks/bench_recurrent.py [--backend jax|tensorflow] [--window 1.5] [--rounds 3] [--threads 2]
                                         [--shapes ef_lstm_mmsa,text_mmsa,bilstm_default] [--json out.json]

Whether projecting every step's input at once pays depends on the device: on a CPU the per-step input
product ``[B, D] x [D, 4u]`` may already run near the machine's peak, on a GPU each product is a kernel
launch inside the scan. This times both layers at the shapes our models use, as stacks built the way
``blocks.encoders.recurrent_stack`` builds them (masked, right-padded random lengths, Dense(6) on top, Adam +
MAE through ``train_on_batch`` / ``predict_on_batch`` on tensors already on the device), in alternating
windows of ``--window`` seconds over ``--rounds`` rounds, and prints the median ms per step of each and the
ratio Keras / ours (above 1: ours is faster). The two stacks hold the same weights, and their predictions
are compared before timing (they must agree to float32 rounding).

``JAX_PLATFORMS=cpu`` (or ``CUDA_VISIBLE_DEVICES=``) keeps JAX on the CPU; ``--threads`` pins the process
to that many CPUs (XLA's CPU thread pool follows the affinity).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

#: name -> (input width, units, bidirectional, layers, what uses it)
SHAPES = {
    "ef_lstm_mmsa": (409, 256, False, 2, "ef_lstm at MMSA's CMU-MOSEI setting (fused 300+74+35, 2 x 256)"),
    "text_mmsa": (300, 128, False, 1, "tfn / lmf text sub-network at MMSA's setting (GloVe 300 -> 128)"),
    "bilstm_default": (409, 64, True, 1, "ef_lstm / lf_lstm defaults (BiLSTM 64)"),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("jax", "tensorflow"), default="jax")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--window", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="pin to this many CPUs (0: leave as is)")
    parser.add_argument("--json", default="")
    return parser.parse_args(argv)


ARGS = parse_args()
os.environ["KERAS_BACKEND"] = ARGS.backend
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if ARGS.threads and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: ARGS.threads])
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import keras  # noqa: E402
from keras import ops  # noqa: E402

from mmer_tf.models.blocks.recurrent import ProjectedLSTM  # noqa: E402


def stamp() -> str:
    return time.strftime("%H:%M:%S")


def build(kind: str, width: int, units: int, bidirectional: bool, layers: int, steps: int):
    x = keras.Input((steps, width))
    mask = keras.Input((steps,), dtype="bool")
    h = x
    for index in range(layers):
        sequences = index < layers - 1
        if kind == "keras":
            layer = keras.layers.LSTM(units, return_sequences=sequences)
            if bidirectional:
                layer = keras.layers.Bidirectional(layer)
        else:
            layer = ProjectedLSTM(units, bidirectional=bidirectional, return_sequences=sequences)
        h = layer(h, mask=mask)
    model = keras.Model([x, mask], keras.layers.Dense(6)(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mean_absolute_error",
                  jit_compile=True if ARGS.backend == "jax" else "auto")
    return model


def copy_weights(keras_model, ours) -> None:
    """Give ``ours`` the Keras stack's weights (per direction: kernel, recurrent kernel, bias)."""
    recurrent = [layer for layer in keras_model.layers if type(layer).__name__ in ("LSTM", "Bidirectional")]
    projected = [layer for layer in ours.layers if isinstance(layer, ProjectedLSTM)]
    for source, target in zip(recurrent, projected):
        cells = ([source.forward_layer.cell, source.backward_layer.cell] if hasattr(source, "forward_layer")
                 else [source.cell])
        numpy = [[ops.convert_to_numpy(w) for w in (c.kernel, c.recurrent_kernel, c.bias)] for c in cells]
        target.kernel.assign(np.concatenate([n[0] for n in numpy], axis=-1))
        target.recurrent_kernel.assign(np.stack([n[1] for n in numpy]))
        target.bias.assign(np.concatenate([n[2] for n in numpy], axis=-1))
    ours.layers[-1].set_weights(keras_model.layers[-1].get_weights())


def window(step, seconds: float) -> float:
    """ms per call of ``step`` over ``seconds`` of wall clock (its result fetched at the end)."""
    count, started = 0, time.perf_counter()
    while True:
        result = step()
        count += 1
        if time.perf_counter() - started >= seconds:
            ops.convert_to_numpy(result)
            return 1e3 * (time.perf_counter() - started) / count


def main() -> int:
    args = ARGS
    rng = np.random.default_rng(0)
    device = "cpu"
    if args.backend == "jax":
        import jax

        first = jax.devices()[0]
        device = first.device_kind if first.platform != "cpu" else "cpu"
    print(f"{stamp()} backend={args.backend} keras={keras.__version__} device={device} "
          f"cpus={len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} "
          f"batch={args.batch} steps={args.steps} window={args.window}s rounds={args.rounds} "
          f"load={os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    for name in [s for s in args.shapes.split(",") if s]:
        width, units, bidirectional, layers, what = SHAPES[name]
        lengths = rng.integers(max(1, args.steps // 4), args.steps + 1, size=args.batch)
        mask_np = np.arange(args.steps)[None, :] < lengths[:, None]
        x_np = rng.normal(size=(args.batch, args.steps, width)).astype(np.float32) * mask_np[..., None]
        y_np = rng.uniform(0, 3, size=(args.batch, 6)).astype(np.float32)
        x, mask, y = ops.convert_to_tensor(x_np), ops.convert_to_tensor(mask_np), ops.convert_to_tensor(y_np)
        keras.utils.set_random_seed(0)
        models = {"keras": build("keras", width, units, bidirectional, layers, args.steps),
                  "ours": build("ours", width, units, bidirectional, layers, args.steps)}
        copy_weights(models["keras"], models["ours"])
        started = time.perf_counter()
        predictions = {k: ops.convert_to_numpy(m.predict_on_batch([x, mask])) for k, m in models.items()}
        difference = float(np.abs(predictions["keras"] - predictions["ours"]).max())
        for model in models.values():  # compile the training steps
            model.train_on_batch([x, mask], y)
            model.train_on_batch([x, mask], y)
        print(f"{stamp()} {name}: built and compiled in {time.perf_counter() - started:.1f} s; "
              f"max |keras - ours| before training {difference:.2e}", flush=True)
        times = {}
        for round_index in range(args.rounds):
            order = ["keras", "ours"] if round_index % 2 == 0 else ["ours", "keras"]
            for phase in ("train", "infer"):
                for kind in order:
                    model = models[kind]
                    step = ((lambda m=model: m.train_on_batch([x, mask], y)) if phase == "train"
                            else (lambda m=model: m.predict_on_batch([x, mask])))
                    times.setdefault((kind, phase), []).append(window(step, args.window))
        row = {"shape": name, "what": what, "max_abs_diff": difference}
        for phase in ("train", "infer"):
            k, o = statistics.median(times[("keras", phase)]), statistics.median(times[("ours", phase)])
            row[phase] = {"keras_ms": k, "ours_ms": o, "ratio": k / o,
                          "keras_all": times[("keras", phase)], "ours_all": times[("ours", phase)]}
        rows.append(row)
        print(f"{stamp()} {name:<15} train ms keras {row['train']['keras_ms']:8.2f} ours {row['train']['ours_ms']:8.2f}"
              f" x{row['train']['ratio']:.2f} | infer ms keras {row['infer']['keras_ms']:8.2f} "
              f"ours {row['infer']['ours_ms']:8.2f} x{row['infer']['ratio']:.2f}   ({what})", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({"device": device, "backend": args.backend, "rows": rows},
                                                  indent=1))
    print(f"{stamp()} load average after: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
