"""Featurization throughput per recipe (media-seconds per second), workers 1 vs 2, and peak memory.

    python benchmarks/bench_featurize.py [--clips 12] [--seconds 3] [--size 640x360] [--recipes default,audio]

Generates a corpus of MP4 clips (espeak-ng speech as AAC + an H.264 picture of a drawn, shaded face
at 25 fps that the Haar cascades find unless it smiles) once, then featurizes it with each recipe, each run in a fresh Python process so that
imports, TensorFlow start-up and worker spawning are counted the way a user pays them, and so that
peak memory is per run: ``ru_maxrss`` of the run's process and of its largest worker. Prints, per
recipe, media-seconds per second at workers=1 and 2 (and their ratio; whole runs, start-up included),
workers=1 "warm" (imports and encoder loading done on one clip before the timing: the steady-state
rate a long corpus approaches) and the peaks; then the
memory-flatness check: peak RSS of the default recipe on the corpus and on the corpus twice over.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

RECIPES = {
    "default (logmel + offline text + HOG face)": {},
    "audio logmel only": {"text": "none", "video": "none"},
    "audio opensmile:eGeMAPSv02 (LLD) only": {"audio": "opensmile:eGeMAPSv02", "text": "none", "video": "none"},
    "audio opensmile:ComParE_2016:functionals only": {"audio": "opensmile:ComParE_2016:functionals",
                                                      "text": "none", "video": "none"},
    "video HOG + face detection only": {"audio": "none", "text": "none"},
    "video HOG, centre crop (no face detection)": {"audio": "none", "text": "none", "face_crop": False},
}

LINES = ["Kids are talking by the door", "Dogs are sitting by the door", "I cannot believe you did that",
         "That is wonderful news", "Please leave me alone", "What on earth is going on"]


def make_corpus(folder: Path, clips: int, seconds: float, size: tuple[int, int]) -> list[dict]:
    import media_support as ms

    records = []
    for i in range(clips):
        text = LINES[i % len(LINES)]
        wav = ms.speech(text, folder / f"s{i}.wav", pitch=30 + 7 * (i % 6), speed=150 + 10 * (i % 4))
        mp4 = ms.video(folder / f"clip{i:03d}.mp4", seconds, fps=25, size=size, audio_wav=wav,
                       smile=(i % 3) - 1.0, shaded=True)
        records.append({"id": f"clip{i:03d}", "media": str(mp4), "text": text})
    return records


def one_run(spec: dict) -> dict:
    """In the child process: featurize, report the summary and peak memory."""
    from mmer_tf.features import Clip, Recipe, featurize

    clips = [Clip(r["id"], Path(r["media"]), r["text"]) for r in spec["clips"]]
    recipe = Recipe(**spec["recipe"])
    if spec.get("warm"):  # imports and encoder loading paid on one clip first, outside the timing
        featurize(clips[:1], Path(spec["out"]) / "warmup", recipe, workers=1, progress=False)
    start = time.perf_counter()
    summary = featurize(clips, Path(spec["out"]), recipe, workers=spec["workers"], progress=False)
    wall = time.perf_counter() - start
    return {"wall": wall, "media_seconds": summary["media_seconds"], "done": summary["done"],
            "face_fallback_frames": summary["face_fallback_frames"], "frames": summary["frames"],
            "face_aligned_frames": summary["face_aligned_frames"],
            "self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "workers_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def run_child(clips, recipe: dict, workers: int, scratch: Path, warm: bool = False) -> dict:
    out = Path(tempfile.mkdtemp(dir=scratch))
    spec = {"clips": clips, "recipe": recipe, "workers": workers, "out": str(out), "warm": warm}
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--recipes", default="", help="comma-separated start of recipe names to run (default all)")
    parser.add_argument("--no-memory", action="store_true", help="skip the fallback and memory-flatness runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(json.loads(args.child))))
        return
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        media = scratch / "media"
        media.mkdir()
        t0 = time.perf_counter()
        clips = make_corpus(media, args.clips, args.seconds, size)
        print(f"corpus: {args.clips} clips x {args.seconds:g} s, {size[0]}x{size[1]} H.264 25 fps + AAC speech "
              f"(generated in {time.perf_counter() - t0:.1f} s); cpus={os.cpu_count()}, "
              f"load average {os.getloadavg()[0]:.1f}")
        header = (f"{'recipe':48s} {'w=1 warm':>9s} {'w=1 media-s/s':>14s} {'w=2 media-s/s':>14s} {'w2/w1':>6s} "
                  f"{'peak MiB w=1':>12s} {'peak MiB w=2 (main/worker)':>27s}")
        print(header)
        wanted = [w.strip() for w in args.recipes.split(",") if w.strip()]
        for name, recipe in RECIPES.items():
            if wanted and not any(name.startswith(w) for w in wanted):
                continue
            r0 = run_child(clips, recipe, 1, scratch, warm=True)
            r1 = run_child(clips, recipe, 1, scratch)
            r2 = run_child(clips, recipe, 2, scratch)
            s0 = r0["media_seconds"] / r0["wall"]
            s1, s2 = r1["media_seconds"] / r1["wall"], r2["media_seconds"] / r2["wall"]
            print(f"{name:48s} {s0:9.1f} {s1:14.1f} {s2:14.1f} {s2 / s1:6.2f} {r1['self_mib']:12.0f} "
                  f"{r2['self_mib']:>14.0f} / {r2['workers_mib']:<10.0f}", flush=True)
        if args.no_memory:
            return
        fallback = run_child(clips[:3], RECIPES["video HOG + face detection only"], 1, scratch)
        print(f"face crop on the first 3 clips (frown, neutral, smile): {fallback['face_aligned_frames']} eye-aligned, "
              f"{fallback['face_fallback_frames']} centre fallback of {fallback['frames']} frames")
        big = clips + [{**c, "id": c["id"] + "_b"} for c in clips]
        m1 = run_child(clips, {}, 1, scratch)
        m2 = run_child(big, {}, 1, scratch)
        print(f"memory flatness, default recipe, workers=1: peak RSS {m1['self_mib']:.0f} MiB on {len(clips)} clips, "
              f"{m2['self_mib']:.0f} MiB on {len(big)} clips (x{m2['self_mib'] / m1['self_mib']:.2f}); "
              f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
