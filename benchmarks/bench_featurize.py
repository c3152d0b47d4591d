"""Featurization throughput per recipe (media-seconds per second), workers 1 vs 2, and peak memory.

    python benchmarks/bench_featurize.py [--clips 12] [--seconds 3] [--size 640x360] [--fps 25] [--recipes default,audio]
    python benchmarks/bench_featurize.py --size 1280x720 --fps 30000/1001 --seconds 3.5   # RAVDESS's format

Generates a corpus of MP4 clips (espeak-ng speech, padded with silence to the clip's length, as AAC + an
H.264 picture of a drawn, shaded face at 25 fps) once, then featurizes it with each recipe, each run in a fresh Python process so that
imports, TensorFlow start-up and worker spawning are counted the way a user pays them, and so that
peak memory is per run: ``ru_maxrss`` of the run's process and of its largest worker. Prints, per
recipe, media-seconds per second at workers=1 and 2 (and their ratio; whole runs, start-up included),
workers=1 "warm" (imports and encoder loading done on one clip before the timing: the steady-state
rate a long corpus approaches) and the peaks; then the
memory-flatness check: peak RSS of the default recipe on the corpus and on the corpus twice over.

The floors next to the recipes: the same clips decoded by PyAV alone in a fresh process: every video frame
decoded and dropped (``all``); decoded as the default recipe decodes them at its sampling rate (``--fps``
of the recipe: frames between samples skipped where a sample spans 4+ frames, see ``media.iter_frames``) with the samples' luma planes
read (``luma``: what the offline recipe receives); the same with the samples converted to RGB arrays (``rgb``:
what the colour encoders receive). "x floor" is a recipe's time over the ``all`` floor's time; media seconds
are the videos' durations throughout.

The face frowns, looks neutral and smiles a little in turn (``--smiles -1,0,0.35``, the drawn mouth's curve per
clip): at 640x360 and 1280x720 the Haar cascades find the face and both eyes in every frame of all three, as
they find a RAVDESS actor's, who faces the camera. A broad smile (``1``) is never found: ``--smiles -1,0,1``
(the corpus of the tables before 2026-12-05) puts a clip without a found face in every three, each paying a
full face search on every 4th sample and featurized from the centre square.

``--rounds R`` repeats the floors and every recipe's runs R times, interleaved (a round runs each once, in
turn), and prints the medians: on a shared machine the load changes between rows, and ratios taken within
a round cancel most of it.
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
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

FLOORS = {"all": "floor: PyAV decode, every frame",
          "luma": "floor: recipe's decode + luma of its samples",
          "rgb": "floor: recipe's decode + RGB of its samples"}
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


def pad(wav: Path, seconds: float) -> Path:
    """The speech followed by silence to the clip's length: a RAVDESS clip's sound lasts as long as its picture."""
    import numpy as np
    import soundfile

    wave, rate = soundfile.read(str(wav), dtype="float32")
    soundfile.write(str(wav), np.pad(wave, (0, max(0, int(round(seconds * rate)) - len(wave)))), rate)
    return wav


SMILES = (-1.0, 0.0, 0.35)  # frowning, neutral, smiling a little: the cascades find all three (module docstring)


def make_corpus(folder: Path, clips: int, seconds: float, size: tuple[int, int], fps=25,
                smiles: tuple[float, ...] = SMILES) -> list[dict]:
    """``clips`` generated clips, the face's expression taking the ``smiles`` in turn."""
    import media_support as ms

    records = []
    for i in range(clips):
        text = LINES[i % len(LINES)]
        wav = pad(ms.speech(text, folder / f"s{i}.wav", pitch=30 + 7 * (i % 6), speed=150 + 10 * (i % 4)), seconds)
        mp4 = ms.video(folder / f"clip{i:03d}.mp4", seconds, fps=fps, size=size, audio_wav=wav,
                       smile=smiles[i % len(smiles)], shaded=True)
        records.append({"id": f"clip{i:03d}", "media": str(mp4), "text": text})
    return records


def decode_floor(spec: dict) -> dict:
    """In the child process: PyAV decoding alone, every frame (``all``), or the recipe's samples (``luma``/``rgb``)."""
    import av

    from mmer_tf.features import Recipe
    from mmer_tf.features.media import iter_frames

    fps = Recipe().fps
    start, cpu = time.perf_counter(), time.process_time()
    media = frames = 0
    for clip in spec["clips"]:
        if spec["floor"] == "all":
            with av.open(clip["media"]) as container:
                stream = container.streams.video[0]
                for frame in container.decode(stream):
                    frames += 1
                media += float(stream.duration * stream.time_base) if stream.duration else frames / 25
        else:
            for _k, _frame in iter_frames(Path(clip["media"]), fps, grey=spec["floor"] == "luma"):
                frames += 1
            with av.open(clip["media"]) as container:
                stream = container.streams.video[0]
                media += float(stream.duration * stream.time_base)
    return {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu, "media_seconds": media,
            "frames": frames,
            "self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "workers_mib": 0.0}


def interleaved(spec: dict) -> dict:
    """In the child process, warm: the floors and each recipe on the same clips, in turn, ``rounds`` times.

    Every rate comes from one process under the same load (sequential fresh-process runs on a shared machine
    see the load change between rows); returns the median media-s/s of each, keyed by name, and (``x:``
    keys) the median over rounds of its time over the same round's every-frame floor's time.
    """
    import statistics

    from mmer_tf.features import Clip, Recipe, featurize_clip

    clips = [Clip(r["id"], Path(r["media"]), r["text"]) for r in spec["clips"]]
    recipes = {name: Recipe(**recipe) for name, recipe in spec["recipes"].items()}
    for recipe in recipes.values():
        featurize_clip(clips[0], recipe)  # imports and encoders, outside the timing
    rates: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}  # CPU seconds of every thread of the process per media second
    for _ in range(spec["rounds"]):
        for floor in FLOORS:
            r = decode_floor({"clips": spec["clips"], "floor": floor})
            rates.setdefault(f"floor:{floor}", []).append(r["media_seconds"] / r["wall"])
            cpus.setdefault(f"floor:{floor}", []).append(r["cpu"] / r["media_seconds"])
        for name, recipe in recipes.items():
            start, cpu = time.perf_counter(), time.process_time()
            for clip in clips:
                featurize_clip(clip, recipe)
            rates.setdefault(name, []).append(r["media_seconds"] / (time.perf_counter() - start))
            cpus.setdefault(name, []).append((time.process_time() - cpu) / r["media_seconds"])
    ratios = {f"x:{name}": statistics.median(rates["floor:all"][i] / v for i, v in enumerate(values))
              for name, values in rates.items()}
    cpu_ratios = {f"cpu:{name}": statistics.median(v / cpus["floor:all"][i] for i, v in enumerate(values))
                  for name, values in cpus.items()}
    return {**{name: statistics.median(values) for name, values in rates.items()}, **ratios, **cpu_ratios}


def one_run(spec: dict) -> dict:
    """In the child process: featurize, report the summary and peak memory."""
    if spec.get("floor"):
        return decode_floor(spec)
    if spec.get("rounds"):
        return interleaved(spec)
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


def run_child(clips, recipe: dict, workers: int, scratch: Path, warm: bool = False, floor: str = "") -> dict:
    out = Path(tempfile.mkdtemp(dir=scratch))
    spec = {"clips": clips, "recipe": recipe, "workers": workers, "out": str(out), "warm": warm, "floor": floor}
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rounds_table(clips, scratch: Path, rounds: int, wanted: list[str]) -> None:
    """Floors and recipes (w=1 warm, w=1, w=2: fresh processes) in turn, ``rounds`` times; medians of rates
    and of each rate's ratio to the same round's every-frame floor; load average per round."""
    import statistics

    chosen = {n: r for n, r in RECIPES.items() if not wanted or any(n.startswith(w) for w in wanted)}
    rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    peaks: dict[str, float] = {}
    loads = []
    for i in range(rounds):
        loads.append(os.getloadavg()[0])
        got = {}
        for floor in FLOORS:
            r = run_child(clips, {}, 1, scratch, floor=floor)
            media = r["media_seconds"]  # the videos' duration; a recipe's summary counts its audio's (shorter here)
            got[f"{floor}"] = media / r["wall"]
        for name, recipe in chosen.items():
            for key, workers, warm in (("w=1 warm", 1, True), ("w=1", 1, False), ("w=2", 2, False)):
                r = run_child(clips, recipe, workers, scratch, warm=warm)
                got[f"{name}|{key}"] = media / r["wall"]
                peaks[f"{name}|{key}"] = max(peaks.get(f"{name}|{key}", 0.0), r["self_mib"], r["workers_mib"])
        for key, rate in got.items():
            rates.setdefault(key, []).append(rate)
            ratios.setdefault(key, []).append(got["all"] / rate)
        print(f"round {i + 1}/{rounds} done, load average {loads[-1]:.1f} at its start, "
              f"{os.getloadavg()[0]:.1f} now", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    rat = {k: statistics.median(v) for k, v in ratios.items()}
    print(f"medians of {rounds} interleaved rounds (load average {min(loads):.1f}-{max(loads):.1f} at the rounds' "
          f"starts); media-s/s, and in brackets x the every-frame floor's time measured in the same round:")
    for floor, label in FLOORS.items():
        print(f"  {label:48s} {med[floor]:7.1f} media-s/s  [x{rat[floor]:.2f}]")
    print(f"  {'recipe':48s} {'w=1 warm':>18s} {'w=1':>18s} {'w=2':>18s}  peak MiB")
    for name in chosen:
        cells = "".join(f"{med[f'{name}|{k}']:8.1f} [x{rat[f'{name}|{k}']:5.2f}] "
                        for k in ("w=1 warm", "w=1", "w=2"))
        print(f"  {name:48s} {cells} {peaks[f'{name}|w=1']:6.0f}")


def table(args, clips, scratch: Path, header: str, wanted: list[str]) -> None:
    """Floors, then each recipe: w=1 warm, w=1, w=2 (fresh processes), one row each (or --interleaved)."""
    print(header)

    floors = {}
    for floor, label in FLOORS.items():
        f1 = run_child(clips, {}, 1, scratch, floor=floor)
        floors[floor] = f1["media_seconds"] / f1["wall"]
        floors["media_seconds"] = f1["media_seconds"]
        print(f"{label:48s} {floors[floor]:9.1f} {'':>14s} {'':>14s} {'':>6s} {f1['self_mib']:12.0f}", flush=True)
    if args.interleaved:
        chosen = {n: r for n, r in RECIPES.items() if not wanted or any(n.startswith(w) for w in wanted)}
        spec = {"clips": clips, "recipes": chosen, "rounds": args.interleaved}
        proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
        rates = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"one process, warm, medians of {args.interleaved} interleaved rounds "
              f"(load average now {os.getloadavg()[0]:.1f}); x: the median over rounds of the row's time over the "
              f"same round's every-frame floor's time:")
        print("  (cpu x: the same for the CPU time of all the process's threads: decoders and OpenCV run several)")
        for name, rate in rates.items():
            if not name.startswith(("x:", "cpu:")):
                print(f"  {name:48s} {rate:7.2f} media-s/s  x{rates['x:' + name]:5.2f} the decode-all floor's time"
                      f"  cpu x{rates['cpu:' + name]:5.2f}")
        return
    for name, recipe in RECIPES.items():
        if wanted and not any(name.startswith(w) for w in wanted):
            continue
        r0 = run_child(clips, recipe, 1, scratch, warm=True)
        r1 = run_child(clips, recipe, 1, scratch)
        r2 = run_child(clips, recipe, 2, scratch)
        media = floors["media_seconds"]  # the videos' duration, as the floors count it (a summary counts the audio's)
        s0 = media / r0["wall"]
        s1, s2 = media / r1["wall"], media / r2["wall"]
        print(f"{name:48s} {s0:9.1f} {s1:14.1f} {s2:14.1f} {s2 / s1:6.2f} {r1['self_mib']:12.0f} "
              f"{r2['self_mib']:>14.0f} / {r2['workers_mib']:<10.0f} "
              f"(warm: x{floors['all'] / s0:.2f} the decode-all floor's time)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", default="25", help="frame rate of the generated clips, e.g. 30000/1001 (29.97)")
    parser.add_argument("--smiles", default=",".join(f"{v:g}" for v in SMILES),
                        help="the drawn mouth's curve per clip, in turn (-1 frown, 0 neutral, 1 a broad smile, "
                             "which the cascades do not find); a list starting with a minus: --smiles=-1,0,1")
    parser.add_argument("--recipes", default="", help="comma-separated start of recipe names to run (default all)")
    parser.add_argument("--no-memory", action="store_true", help="skip the fallback and memory-flatness runs")
    parser.add_argument("--interleaved", type=int, default=0, metavar="ROUNDS",
                        help="only the warm, one-process comparison: floors and recipes in turn, ROUNDS times")
    parser.add_argument("--rounds", type=int, default=1, help="repeat floors and recipes, interleaved; medians")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(json.loads(args.child))))
        return
    size = tuple(int(v) for v in args.size.split("x"))
    fps = Fraction(args.fps)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        media = scratch / "media"
        media.mkdir()
        t0 = time.perf_counter()
        smiles = tuple(float(v) for v in args.smiles.split(","))
        clips = make_corpus(media, args.clips, args.seconds, size, fps, smiles)
        print(f"corpus: {args.clips} clips x {args.seconds:g} s, {size[0]}x{size[1]} H.264 {float(fps):.2f} fps + AAC speech, "
              f"smiles {args.smiles} "
              f"(generated in {time.perf_counter() - t0:.1f} s); cpus={os.cpu_count()}, "
              f"load average {os.getloadavg()[0]:.1f}")
        header = (f"{'recipe':48s} {'w=1 warm':>9s} {'w=1 media-s/s':>14s} {'w=2 media-s/s':>14s} {'w2/w1':>6s} "
                  f"{'peak MiB w=1':>12s} {'peak MiB w=2 (main/worker)':>27s}")
        wanted = [w.strip() for w in args.recipes.split(",") if w.strip()]
        if args.rounds > 1 and not args.interleaved:
            rounds_table(clips, scratch, args.rounds, wanted)
        else:
            table(args, clips, scratch, header, wanted)
        if args.no_memory:
            return
        fallback = run_child(clips[:3], RECIPES["video HOG + face detection only"], 1, scratch)
        print(f"face crop on the first 3 clips (smiles {args.smiles}): {fallback['face_aligned_frames']} eye-aligned, "
              f"{fallback['face_fallback_frames']} centre fallback of {fallback['frames']} frames")
        big = clips + [{**c, "id": c["id"] + "_b"} for c in clips]
        m1 = run_child(clips, {}, 1, scratch)
        m2 = run_child(big, {}, 1, scratch)
        print(f"memory flatness, default recipe, workers=1: peak RSS {m1['self_mib']:.0f} MiB on {len(clips)} clips, "
              f"{m2['self_mib']:.0f} MiB on {len(big)} clips (x{m2['self_mib'] / m1['self_mib']:.2f}); "
              f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
