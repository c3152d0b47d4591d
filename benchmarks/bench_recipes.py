"""Featurization throughput and peak memory of the pretrained recipes: fer, vader and kh:<preset>.

    python benchmarks/bench_recipes.py [--clips 8] [--seconds 3] [--size 640x360]

The same measurement as ``bench_featurize.py`` (whose corpus generator and per-run child process it
uses: a fresh Python process per run, so imports, model loading and worker start-up are paid as a user
pays them): per recipe, media-seconds per second with 1 worker after a warm-up clip ("warm"), 1 worker
and 2 workers from a cold start, and the peak RSS of the run's process and of its largest worker. Each
recipe changes one modality and drops the others, so the row is that encoder's cost.

The ``kh:`` rows use tiny KerasHub presets built from configs with random weights
(``tests/kh_support.py``: a 2-layer BERT, a 2-stage ResNet on 32x32 crops, a 1-layer Whisper with 2 s
windows): no preset can be downloaded here, so they measure the recipe's own overhead (tokenizing per
word, converters, batching, windowing), not a real backbone's compute; a real preset costs its
backbone's FLOPs on top.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def recipes(presets: dict[str, Path]) -> dict[str, dict]:
    return {
        "video HOG (today's default, for reference)": {"audio": "none", "text": "none"},
        "video fer (FER2013 CNN, 135 dims)": {"audio": "none", "text": "none", "video": "fer"},
        "text offline (today's default)": {"audio": "none", "video": "none"},
        "text vader": {"audio": "none", "video": "none", "text": "vader"},
        "text kh: tiny BERT": {"audio": "none", "video": "none", "text": f"kh:{presets['bert']}"},
        "video kh: tiny ResNet": {"audio": "none", "text": "none", "video": f"kh:{presets['resnet']}"},
        "audio kh: tiny Whisper": {"text": "none", "video": "none", "audio": f"kh:{presets['whisper']}"},
    }


def build_presets(folder: Path) -> dict[str, Path]:
    """The tiny presets, written by a separate process: Linux keeps a process's peak RSS across fork and
    exec, so a parent that had loaded Keras would inflate every child's measured peak."""
    names = ("bert", "resnet", "whisper")
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); import kh_support; from pathlib import Path; "
            + "; ".join(f"kh_support.{n}(Path({str(folder / n)!r}))" for n in names))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return {n: folder / n for n in names}


def main() -> None:
    import bench_featurize

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--size", default="640x360")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "media").mkdir()
        t0 = time.perf_counter()
        # frowning, neutral and broadly smiling (not found): the corpus its README table was measured on
        clips = bench_featurize.make_corpus(scratch / "media", args.clips, args.seconds, size, smiles=(-1.0, 0.0, 1.0))
        presets = build_presets(scratch / "presets")
        print(f"corpus: {args.clips} clips x {args.seconds:g} s, {size[0]}x{size[1]} (generated with the presets in "
              f"{time.perf_counter() - t0:.1f} s); cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
        print(f"{'recipe':44s} {'w=1 warm':>9s} {'w=1 media-s/s':>14s} {'w=2 media-s/s':>14s} {'w2/w1':>6s} "
              f"{'peak MiB w=1':>12s} {'peak MiB w=2 (main/worker)':>27s}")
        for name, recipe in recipes(presets).items():
            r0 = bench_featurize.run_child(clips, recipe, 1, scratch, warm=True)
            r1 = bench_featurize.run_child(clips, recipe, 1, scratch)
            r2 = bench_featurize.run_child(clips, recipe, 2, scratch)
            s0 = r0["media_seconds"] / r0["wall"]
            s1, s2 = r1["media_seconds"] / r1["wall"], r2["media_seconds"] / r2["wall"]
            print(f"{name:44s} {s0:9.1f} {s1:14.1f} {s2:14.1f} {s2 / s1:6.2f} {r1['self_mib']:12.0f} "
                  f"{r2['self_mib']:>14.0f} / {r2['workers_mib']:<10.0f}", flush=True)
        print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
