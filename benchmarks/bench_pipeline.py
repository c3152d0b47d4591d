"""Input pipeline vs training step vs the seed's feeding, measured side by side in one run.

    python benchmarks/bench_pipeline.py [--segments 2000] [--batch 32] [--layers 1]

On a synthetic SegmentSet with CMU-MOSEI-like shapes (text 300, audio 74, vision 35 features per
word-aligned step, 20-60 steps) and the ``ef_williams`` model, it reports segments/s of:

1. our ``make_dataset`` pipeline alone (iterating one shuffled epoch, nothing else);
2. the model's train step alone (one cached in-memory batch fed again and again);
3. one training epoch fed by our pipeline;
4. one training epoch fed the seed's way (``seed_style_dataset``: a Python generator of float64
   examples through ``from_generator``, then ``padded_batch``, no prefetch), at the same batch size;
5. one training epoch of the seed as it actually ran: its ``.shuffle().batch()`` was never assigned,
   so it fed one example per step (``seed_style_dataset`` with batch size 1);

and prints the ratios against the bars: pipeline alone >= 10x the train step (the input is never the
bottleneck) and our epoch >= 5x the seed-style epoch (both 4. and 5. are compared; on a CPU the model
step dominates 4., so the feeding alone cannot buy 5x there: see benchmarks/README.md). Each epoch figure is the best of ``--repeats``
epochs after one warm-up epoch (tracing and graph building excluded).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

DIMS = {"text": 300, "audio": 74, "vision": 35}


def synthetic_segments(n: int, seed: int = 0):
    from mmer_tf.data.segments import SegmentSet

    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 61, size=n)
    features = {m: [rng.standard_normal((int(l), d), dtype=np.float32) for l in lengths] for m, d in DIMS.items()}
    labels = np.concatenate([rng.uniform(-3, 3, (n, 1)), rng.uniform(0, 3, (n, 6))], axis=1)
    return SegmentSet(ids=[f"v{i}[0]" for i in range(n)], features=features, labels=labels.astype(np.float32))


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def time_iteration(dataset) -> float:
    start = time.perf_counter()
    for _ in dataset:
        pass
    return time.perf_counter() - start


def best_epoch_seconds(model, dataset, repeats: int) -> float:
    model.fit(dataset, epochs=1, verbose=0)  # warm-up: tracing, graph building
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--steps", type=int, default=200, help="train steps timed on the cached batch")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from mmer_tf import train
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.data.labels import emotion_scores
    from mmer_tf.data.pipeline import make_dataset, seed_style_dataset
    from mmer_tf.models import registry

    segments = synthetic_segments(args.segments)
    targets = emotion_scores(segments.labels)
    n = len(segments)
    config = ExperimentConfig(num_layers=args.layers, batch_size=args.batch, seed=0)
    print(f"{n} segments, dims {DIMS}, steps 20-60, batch {args.batch}, ef_williams -l {args.layers}, "
          f"backend {keras.backend.backend()}, devices {[d.device_type for d in tf.config.list_logical_devices()]}, "
          f"{os.cpu_count()} CPUs")

    ours = make_dataset(segments, targets, batch_size=args.batch, shuffle=True, seed=0)
    seeds = seed_style_dataset(segments, targets, batch_size=args.batch)

    # 1. pipeline alone (one warm-up pass, then best of repeats)
    time_iteration(ours)
    pipeline_rate = rate(n, min(time_iteration(ours) for _ in range(args.repeats)))
    seed_pipeline_rate = rate(n, time_iteration(seeds))

    # 2. train step alone: one in-memory batch, repeated, fed by a no-op dataset
    keras.utils.set_random_seed(0)
    model = registry.build_model(config, DIMS, targets.shape[1])
    train.compile_model(model, config, "scores")
    # a representative batch: the one with the median padded length of an unshuffled epoch
    batches = list(make_dataset(segments, targets, batch_size=args.batch, shuffle=False, seed=0,
                                drop_remainder=True))
    padded = [int(x["text"].shape[1]) for x, _ in batches]
    cached = batches[int(np.argsort(padded)[len(padded) // 2])]
    repeated = tf.data.Dataset.from_tensors(cached).repeat(args.steps).cache()
    list(repeated)  # materialise the cache before timing
    model.fit(tf.data.Dataset.from_tensors(cached).repeat(3), epochs=1, verbose=0)  # warm-up
    start = time.perf_counter()
    model.fit(repeated, epochs=1, verbose=0)
    step_rate = rate(args.steps * args.batch, time.perf_counter() - start)

    # 3./4. full epochs, same model, our feeding vs the seed's
    our_epoch_rate = rate(n, best_epoch_seconds(model, ours, args.repeats))
    seed_epoch_rate = rate(n, best_epoch_seconds(model, seeds, args.repeats))
    # the seed as it actually ran: its `.shuffle().batch()` result was never assigned, so the model was
    # fed one example per step (batches of one)
    as_run = seed_style_dataset(segments, targets, batch_size=1)
    as_run_rate = rate(n, best_epoch_seconds(model, as_run, 1))

    rows = [
        ("input pipeline alone (ours)", pipeline_rate),
        ("input pipeline alone (seed-style)", seed_pipeline_rate),
        ("train step alone (cached batch)", step_rate),
        ("one epoch, our pipeline", our_epoch_rate),
        (f"one epoch, seed-style feeding (batch {args.batch})", seed_epoch_rate),
        ("one epoch, seed as run (batch 1)", as_run_rate),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:12,.0f} segments/s")
    bar1 = pipeline_rate / step_rate
    bar2 = our_epoch_rate / seed_epoch_rate
    bar3 = our_epoch_rate / as_run_rate
    print(f"pipeline alone / train step             = {bar1:6.1f}x  (bar >= 10x: {'PASS' if bar1 >= 10 else 'FAIL'})")
    print(f"our epoch / seed-style epoch (batch {args.batch:>2}) = {bar2:6.1f}x  "
          f"(bar >= 5x: {'PASS' if bar2 >= 5 else 'FAIL'})")
    print(f"our epoch / seed as run (batch 1)       = {bar3:6.1f}x  (bar >= 5x: {'PASS' if bar3 >= 5 else 'FAIL'})")
    print(f"our pipeline / seed-style pipeline      = {pipeline_rate / seed_pipeline_rate:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
