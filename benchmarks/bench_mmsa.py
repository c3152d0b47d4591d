"""Time and peak memory from an MMSA pickle of CMU-MOSEI's real size to epoch-ready folds, side by side.

    python benchmarks/bench_mmsa.py [--scale 1.0] [--text-dim 300] [--keep DIR]

Generates (once, in a child process, not timed) an MMSA-layout ``aligned_50.pkl`` of CMU-MOSEI's size:
16,326 / 1,871 / 4,659 train/valid/test segments, 50 steps, text ``--text-dim`` (300 GloVe as in the
CMU-era files; MMSA's own MOSEI file carries 768-d BERT features: ``--text-dim 768``), audio 74
(COVAREP, with ``-inf``), vision 35 (FACET), float32, zero padding after each segment's real steps. Then,
each phase in a fresh child process (so each peak RSS is its own, read from ``/proc/self/status`` VmHWM):

1. ``pickle.load`` + ``astype(float32)``: what MMSA's own ``data_loader`` does (the reference);
2. plain ``pickle.load`` alone (2a) and our restricted unpickler alone (2b): the cost of reading safely;
3. the ``mmsa`` adapter alone: unpickle + convert to variable-length segments (views, no copy);
4. first run: ``dataset.load_folds`` -- unpickle, convert to variable-length segments, write the dataset
   cache, split by the file's own folds, sanitise + normalise, write the fold cache -> epoch-ready folds;
5. second run: ``dataset.load_folds`` again -> served from the fold cache (no unpickling);
6. an idle child with the same imports (the RSS floor every phase includes).

Prints seconds, peak RSS and ratios against phase 1, and the corpus size in memory for scale.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (16326, 1871, 4659)
STEPS = 50
DIMS = {"text": 300, "audio": 74, "vision": 35}


def _peak_mib() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def generate(path: Path, scale: float, text_dim: int, seed: int = 0) -> dict:
    """Write the MMSA-layout pickle split by split (one split's arrays in memory at a time is not possible
    for one pickle, so arrays are filled in place, in float32, and dumped with protocol 5)."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(seed)
    dims = dict(DIMS, text=text_dim)
    data, counter = {}, 0
    for split, size in zip(("train", "valid", "test"), SIZES):
        n = max(3, int(round(size * scale)))
        lengths = rng.integers(5, STEPS + 1, n)
        labels = np.round(rng.uniform(-3, 3, n) * 3) / 3
        split_dict = {}
        for m, d in dims.items():
            block = rng.standard_normal((n, STEPS, d), dtype=np.float32)
            block += (labels[:, None, None] * 0.2).astype(np.float32)
            block[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0.0
            if m == "audio":
                block[::7, 0, 3] = -np.inf
            split_dict[m] = block
        split_dict.update(
            raw_text=np.array([f"segment {i}" for i in range(n)], dtype=object),
            id=np.array([f"video{(counter + i) // 8}$_${(counter + i) % 8}" for i in range(n)], dtype=object),
            text_bert=rng.integers(0, 30000, (n, 3, STEPS)).astype(np.float32),
            regression_labels=labels.astype(np.float32),
            classification_labels=(np.sign(labels) + 1).astype(np.float32),
            annotations=np.array(["x"] * n, dtype=object),
        )
        data[split] = split_dict
        counter += n
    with open(path, "wb") as handle:
        pickle.dump(data, handle, protocol=5)
    nbytes = sum(v.nbytes for s in data.values() for k, v in s.items() if k in dims)
    return {"segments": [len(s["regression_labels"]) for s in data.values()], "feature_mib": nbytes / 2**20,
            "file_mib": path.stat().st_size / 2**20}


def phase(name: str, path: Path, cache: Path) -> dict:
    import numpy as np

    started = time.perf_counter()
    out: dict = {}
    if name == "mmsa_reference":
        import pickle

        with open(path, "rb") as handle:
            data = pickle.load(handle)
        for split in data.values():
            for m in DIMS:
                split[m] = split[m].astype(np.float32)
            split["audio"][split["audio"] == -np.inf] = 0
    elif name == "plain_unpickle":
        import pickle

        with open(path, "rb") as handle:
            data = pickle.load(handle)
    elif name == "safe_unpickle":
        from mmer_tf.data import safe_pickle

        data = safe_pickle.load(path)
    elif name == "adapter":
        from mmer_tf.config import ExperimentConfig
        from mmer_tf.data.corpora import mmsa

        segments, summary = mmsa.load_segments(mmsa.describe(path, ExperimentConfig()), ExperimentConfig(), False)
        out = {"segments": len(segments)}
    elif name in ("first_run", "second_run"):
        from mmer_tf.config import ExperimentConfig
        from mmer_tf.data import dataset

        config = ExperimentConfig(dataset_folder=str(path), pickle_folder=str(cache), label_type="sentiment")
        folds, info = dataset.load_folds(config, progress=False)
        out = {"counts": info["counts"], "cache_hit": info["cache_hit"], "dataset_cache_hit": info["dataset_cache_hit"]}
    elif name == "imports_only":
        from mmer_tf.config import ExperimentConfig  # noqa: F401
        from mmer_tf.data import dataset, safe_pickle  # noqa: F401
    out.update(seconds=time.perf_counter() - started, peak_mib=_peak_mib())
    return out


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of CMU-MOSEI's segment counts")
    parser.add_argument("--text-dim", type=int, default=DIMS["text"])
    parser.add_argument("--keep", help="work in this folder and keep it (default: a temporary folder, removed)")
    parser.add_argument("--child", nargs=3, metavar=("PHASE", "PICKLE", "CACHE"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=1, metavar="PICKLE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, path, cache = args.child
        print(json.dumps(phase(name, Path(path), Path(cache))))
        return
    if args.generate:
        print(json.dumps(generate(Path(args.generate[0]), args.scale, args.text_dim)))
        return

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_mmsa_"))
    work.mkdir(parents=True, exist_ok=True)
    path, cache = work / "aligned_50.pkl", work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    try:
        t0 = time.perf_counter()
        made = _child(["--generate", str(path), "--scale", str(args.scale), "--text-dim", str(args.text_dim)])
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s: segments {made['segments']}, "
              f"file {made['file_mib']:.0f} MiB, padded feature arrays {made['feature_mib']:.0f} MiB "
              f"(text {args.text_dim}, audio 74, vision 35, {STEPS} steps, float32)")
        results = {}
        for name in ("imports_only", "mmsa_reference", "plain_unpickle", "safe_unpickle", "adapter", "first_run", "second_run"):
            results[name] = _child(["--child", name, str(path), str(cache)])
        cache_mib = sum(p.stat().st_size for p in cache.glob("*.npz")) / 2**20
        ref = results["mmsa_reference"]
        print(f"\n{'phase':<44}{'seconds':>9}{'x ref':>8}{'peak RSS MiB':>14}{'x ref':>8}")
        labels = {
            "mmsa_reference": "1. pickle.load + astype (MMSA's loader)",
            "plain_unpickle": "2a. plain pickle.load alone (unsafe)",
            "safe_unpickle": "2b. safe_pickle.load alone",
            "adapter": "3. mmsa adapter: unpickle + convert",
            "first_run": "4. first run: load_folds (+ caches, norm.)",
            "second_run": "5. second run: load_folds (fold cache hit)",
            "imports_only": "6. imports only (RSS floor)",
        }
        for name in ("mmsa_reference", "plain_unpickle", "safe_unpickle", "adapter", "first_run", "second_run", "imports_only"):
            r = results[name]
            print(f"{labels[name]:<44}{r['seconds']:>9.2f}{r['seconds'] / ref['seconds']:>8.2f}"
                  f"{r['peak_mib']:>14.0f}{r['peak_mib'] / ref['peak_mib']:>8.2f}")
        first, second = results["first_run"], results["second_run"]
        print(f"\nfolds {first['counts']}; second run cache_hit={second['cache_hit']}; "
              f"cache files {cache_mib:.0f} MiB; first/second run time {first['seconds'] / second['seconds']:.1f}x; "
              f"first-run peak / padded corpus {first['peak_mib'] / made['feature_mib']:.2f}x")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
