"""What preemption-safe resume costs per epoch: the state written after every epoch vs the epoch itself.

    python benchmarks/bench_resume.py [--models tfn,mult] [--segments 640] [--batch 32] [--steps 50]

For each model (paper defaults, MOSEI-like random batches as in ``bench_models.py``): the size of the
resume state (every model and optimiser variable, plus EarlyStopping's copy of the best weights) and
the time to write it (``mmer_tf.resume.RunState.save``: ``.npz`` + ``state.json``, each fsynced and
renamed) next to the time of one CMU-MOSEI training epoch (16,326 segments), extrapolated from
``--segments`` timed ones. The ratio is the slowdown resume adds to an epoch.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MOSEI_TRAIN_SEGMENTS = 16_326


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated subset (default: every model)")
    parser.add_argument("--segments", type=int, default=640)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from mmer_tf import resume
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.models import registry

    dims = {"text": 300, "audio": 74, "vision": 35}
    rng = np.random.default_rng(0)
    lengths = rng.integers(args.steps // 4, args.steps + 1, size=args.segments)
    mask = (np.arange(args.steps)[None, :] < lengths[:, None]).astype(np.float32)
    batch = {m: rng.normal(size=(args.segments, args.steps, d)).astype(np.float32) for m, d in dims.items()}
    batch.update({f"{m}_mask": mask for m in dims})
    target = rng.uniform(0, 3, size=(args.segments, 6)).astype(np.float32)
    names = [n for n in args.models.split(",") if n] or list(registry.available())
    print(f"backend={keras.backend.backend()} segments={args.segments} batch={args.batch} steps={args.steps} "
          f"cpus={os.cpu_count()}")
    header = f"{'model':<12} {'state MiB':>10} {'save s':>8} {'MOSEI epoch s':>14} {'overhead':>9}"
    print(header)
    print("-" * len(header))
    for name in names:
        keras.utils.set_random_seed(0)
        model = registry.build_model(ExperimentConfig(model_name=name), dims, 6)
        model.compile(optimizer="adam", loss="mean_absolute_error")
        model.fit(batch, target, batch_size=args.batch, epochs=1, verbose=0)  # warm-up (tracing)
        started = time.perf_counter()
        model.fit(batch, target, batch_size=args.batch, epochs=1, verbose=0)
        epoch = (time.perf_counter() - started) * MOSEI_TRAIN_SEGMENTS / args.segments
        with tempfile.TemporaryDirectory() as folder:
            state = resume.RunState(folder)
            arrays = resume.snapshot(model)
            arrays.update({f"es_{i}": w for i, w in enumerate(model.get_weights())})
            started = time.perf_counter()
            state.save({"run_id": 1, "epoch": 0, "history": {}}, arrays)
            resume.snapshot(model)  # the snapshot itself is part of the cost
            saved = time.perf_counter() - started
            size = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
        print(f"{name:<12} {size:>10.1f} {saved:>8.3f} {epoch:>14.1f} {saved / epoch:>8.2%}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
