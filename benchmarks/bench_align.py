"""Alignment benchmark: mmer_tf.data.align against the CMU Multimodal SDK, on a MOSEI-shaped dataset.

    python benchmarks/bench_align.py --videos 100 [--sdk-path /tmp/sdk] [--keep DIR]

Generates N videos (2-3 min each; words at ~2.5/s with 300-d vectors, COVAREP 74-d at 100 Hz, FACET
35-d at 30 Hz with gaps, ~7 label segments of 7 values per video) and prints, measured in this run:

1. SDK ``align(words, mean) ; impute ; align(labels) ; hard_unify`` time vs ours on the same files,
   reference words per second, the speed ratio, and whether the outputs agree (keys, intervals,
   features within float tolerance);
2. our full alignment time vs one plain h5py read of every dataset of every input file (page cache
   warmed once, then read and align alternate ``--repeats`` times; medians and per-pair ratios);
3. our peak resident memory (a fresh subprocess running the CLI's streaming aligner, writing its
   output) at two corpus sizes, to show it stays flat as the corpus grows;
4. (``--cli-videos N``, default 120; ``--only-cli`` runs just this) the whole ``python -m mmer_tf align``
   process against a whole SDK process doing load + align + impute + deploy, on N shorter MOSEI-shaped
   videos (~125 words each; glove_vectors, COVAREP, FACET aligned to words: the SDK's word-level layout,
   one HDF5 group per word and sequence), both timed as fresh processes (wall and CPU, medians), and
   the two output folders compared file by file.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from mmer_tf.data.align import AlignReport, Stage, align_stream  # noqa: E402
from mmer_tf.formats.csd import CsdReader, _read_array, write_csd  # noqa: E402

FILES = {
    "glove_vectors": "CMU_MOSEI_TimestampedWordVectors.csd",
    "COVAREP": "CMU_MOSEI_COVAREP.csd",
    "FACET 4.2": "CMU_MOSEI_VisualFacet42.csd",
    "All Labels": "CMU_MOSEI_Labels.csd",
}


def _intervals(rng, duration: float):
    """Word (MOSEI-like gaps and lengths), COVAREP (100 Hz) and FACET (30 Hz, 5% frames unseen) intervals."""
    gaps = rng.exponential(0.2, int(duration * 3))
    lengths = rng.uniform(0.1, 0.45, len(gaps))
    starts = np.cumsum(gaps + lengths) - lengths
    keep = starts + lengths < duration
    words = np.stack([starts[keep], starts[keep] + lengths[keep]], 1)
    frames = np.arange(int(duration * 100)) / 100.0
    covarep = np.stack([frames, frames + 0.01], 1)
    frames = np.arange(int(duration * 30)) / 30.0
    seen = rng.random(len(frames)) > 0.05
    facet = np.stack([frames, frames + 1 / 30], 1)[seen]
    return words, covarep, facet


def _video(seed: int, index: int):
    """One video's four sequences (seeded per video, so any corpus size is reproducible)."""
    rng = np.random.default_rng([seed, index])
    duration = rng.uniform(120, 180)
    words, covarep, facet = _intervals(rng, duration)
    cuts = np.sort(rng.uniform(0, duration, 8))
    segments = np.stack([cuts[:-1], cuts[1:]], 1)
    vid = f"vid{index:05d}"
    return vid, {
        "glove_vectors": (words, rng.normal(size=(len(words), 300)).astype(np.float32)),
        "COVAREP": (covarep, rng.normal(size=(len(covarep), 74)).astype(np.float32)),
        "FACET 4.2": (facet, rng.normal(size=(len(facet), 35)).astype(np.float32)),
        "All Labels": (segments, rng.uniform(0, 3, size=(len(segments), 7)).astype(np.float32)),
    }


def generate(folder: Path, videos: int, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, file in FILES.items():
        if (folder / file).exists():
            continue
        entries = ((vid, *seqs[name]) for vid, seqs in (_video(seed, i) for i in range(videos)))
        write_csd(folder / file, name, entries)


def read_all(folder: Path) -> float:
    """Seconds for one read of every dataset (intervals and features of every video) of every input
    file, the way any reader of the corpus must load it: the I/O floor. It uses the same low-level
    h5py reads as ``CsdReader`` (faster than ``group[name][()]``), so the floor is not inflated."""
    start = time.perf_counter()
    for file in FILES.values():
        with h5py.File(folder / file, "r") as handle:
            data = next(iter(handle.values()))["data"]
            for key in data.keys():
                group = h5py.h5g.open(data.id, key.encode())
                _read_array(group, b"intervals")
                _read_array(group, b"features")
    return time.perf_counter() - start


def ours(folder: Path, keep: bool):
    readers = {name: CsdReader(folder / file) for name, file in FILES.items()}
    report = AlignReport()
    out = {}
    start = time.perf_counter()
    for _video, entries in align_stream(readers, [Stage("glove_vectors", "mean", impute=True),
                                                  Stage("All Labels")], report=report):
        if keep:
            for name, seq in entries.items():
                out.setdefault(name, {}).update({k: (iv, f) for k, iv, f in seq.items()})
    elapsed = time.perf_counter() - start
    for reader in readers.values():
        reader.close()
    return elapsed, out, report


WORD_LEVEL = {k: FILES[k] for k in ("glove_vectors", "COVAREP", "FACET 4.2")}


def _short_video(seed: int, index: int):
    """One 50-70 s video (words, COVAREP, FACET) for the whole-process comparison."""
    rng = np.random.default_rng([seed, 7, index])
    duration = rng.uniform(50, 70)
    words, covarep, facet = _intervals(rng, duration)
    return f"vid{index:05d}", {
        "glove_vectors": (words, rng.normal(size=(len(words), 300)).astype(np.float32)),
        "COVAREP": (covarep, rng.normal(size=(len(covarep), 74)).astype(np.float32)),
        "FACET 4.2": (facet, rng.normal(size=(len(facet), 35)).astype(np.float32)),
    }


def generate_word_level(folder: Path, videos: int, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, file in WORD_LEVEL.items():
        if not (folder / file).exists():
            write_csd(folder / file, name, ((vid, *seqs[name]) for vid, seqs in
                                            (_short_video(seed, i) for i in range(videos))))


SDK_PROCESS = """
import sys, numpy as np
sys.path.insert(0, {tests!r})
from sdk_support import load_mmdatasdk, sdk_dataset, sdk_mean, quiet
mmdatasdk, why = load_mmdatasdk({sdk!r})
if mmdatasdk is None:
    sys.exit("SDK not importable: " + str(why))
files = {files!r}
dataset = sdk_dataset(mmdatasdk, files)
with quiet():
    dataset.align("glove_vectors", collapse_functions=[sdk_mean])
    dataset.impute("glove_vectors")
    dataset.deploy({out!r}, {{name: path.rsplit("/", 1)[-1][:-4] for name, path in files.items()}})
"""


def _timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, children included) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _folder_contents(folder: Path) -> dict:
    out = {}
    for file in WORD_LEVEL.values():
        with CsdReader(folder / file) as reader:
            out[reader.name] = {key: reader.read(key) for key in reader.video_ids()}
    return out


def cli_vs_sdk(base: Path, videos: int, sdk_path: str | None, repeats: int, sdk_repeats: int) -> None:
    """Section 4: the whole align CLI process vs the SDK's whole load + align + deploy process."""
    from sdk_support import load_mmdatasdk

    folder = base / f"words{videos}"
    generate_word_level(folder, videos)
    with CsdReader(folder / WORD_LEVEL["glove_vectors"]) as reader:
        words = sum(len(iv) for _, iv, _ in reader.items())
    ours_cmd = [sys.executable, "-m", "mmer_tf", "align", str(folder), str(base / "ours_out"),
                "--reference", "glove_vectors", "--quiet"]
    print(f"whole process, {videos} videos, {words} words, glove_vectors + COVAREP + FACET aligned to words")
    mmdatasdk, why = load_mmdatasdk(sdk_path)
    if mmdatasdk is None:
        ours_runs = [_timed(ours_cmd) for _ in range(repeats)]
        print(f"  SDK comparison skipped: {why}")
        print(f"  mmer_tf CLI: wall {statistics.median(w for w, _ in ours_runs):.2f} s")
        return
    files = {name: str(folder / file) for name, file in WORD_LEVEL.items()}
    code = SDK_PROCESS.format(tests=str(ROOT / "tests"), sdk=str(Path(sdk_path or os.environ.get("MMER_SDK_PATH", "")).resolve()),
                              files=files, out=str(base / "sdk_out"))
    # Interleaved, so that other load on a shared machine falls on both alike.
    ours_runs, sdk_runs = [], []
    for i in range(max(repeats, sdk_repeats, 1)):
        if i < repeats:
            ours_runs.append(_timed(ours_cmd))
        if i < max(1, sdk_repeats):
            sdk_runs.append(_timed([sys.executable, "-c", code]))
    mine, theirs = _folder_contents(base / "ours_out"), _folder_contents(base / "sdk_out")
    groups = sum(len(v) for v in mine.values())
    identical = mine.keys() == theirs.keys() and all(
        mine[n].keys() == theirs[n].keys() and all(
            a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
            for key in mine[n] for a, b in zip(mine[n][key], theirs[n][key]))
        for n in mine)
    sdk_wall, sdk_cpu = statistics.median(w for w, _ in sdk_runs), statistics.median(c for _, c in sdk_runs)
    our_wall, our_cpu = statistics.median(w for w, _ in ours_runs), statistics.median(c for _, c in ours_runs)
    print(f"{'':34}{'SDK':>12}{'mmer_tf':>12}{'ratio':>10}")
    print(f"{'wall time (s), median':34}{sdk_wall:12.2f}{our_wall:12.2f}{sdk_wall / our_wall:9.1f}x  (bar: >= 10x)")
    print(f"{'CPU time (s), all processes':34}{sdk_cpu:12.2f}{our_cpu:12.2f}{sdk_cpu / our_cpu:9.1f}x")
    print(f"  runs: SDK {', '.join(f'{w:.1f}' for w, _ in sdk_runs)} s; mmer_tf {', '.join(f'{w:.2f}' for w, _ in ours_runs)} s;"
          f" {groups} output groups; CPUs: {os.cpu_count()}")
    print(f"  output check: {'IDENTICAL' if identical else 'DIFFERENT'} (every key, interval and feature, "
          f"same dtypes, bit for bit)")
    print()


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only), so the next read of the corpus comes from disk."""
    try:
        subprocess.run(["sync"], check=True)
        DROP_CACHES.write_text("3\n")
        return True
    except OSError:
        return False


def cold_read_vs_align(folder: Path, repeats: int) -> tuple[list[float], list[float]] | None:
    """Like :func:`read_vs_align` with the page cache emptied before every read and every alignment:
    the I/O-bound case of a corpus larger than memory (full CMU-MOSEI is ~20 GB). None without root."""
    reads, aligns = [], []
    for _ in range(repeats):
        if not drop_page_cache():
            return None
        reads.append(read_all(folder))
        drop_page_cache()
        aligns.append(ours(folder, keep=False)[0])
    return reads, aligns


def read_vs_align(folder: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Alternate a plain read of all inputs and our full alignment ``repeats`` times, after one warm-up
    read that puts the files in the page cache, so both see the same cache state; the medians (and
    the median of the per-pair ratios) are robust to other load on the machine."""
    read_all(folder)
    reads, aligns = [], []
    for _ in range(repeats):
        reads.append(read_all(folder))
        aligns.append(ours(folder, keep=False)[0])
    return reads, aligns


def sdk(folder: Path, sdk_path: str | None):
    from sdk_support import load_mmdatasdk, sdk_contents, sdk_words_then_labels

    mmdatasdk, why = load_mmdatasdk(sdk_path)
    if mmdatasdk is None:
        return None, why
    files = {name: folder / file for name, file in FILES.items()}
    start = time.perf_counter()
    dataset = sdk_words_then_labels(mmdatasdk, files)
    elapsed = time.perf_counter() - start
    return elapsed, {name: sdk_contents(dataset, name) for name in files}


def same(a: dict, b: dict) -> tuple[bool, str]:
    for name in a:
        if set(a[name]) != set(b[name]):
            return False, f"{name}: keys differ ({len(a[name])} vs {len(b[name])})"
        for key, (iv, f) in a[name].items():
            iv2, f2 = b[name][key]
            if iv.shape != iv2.shape or not np.allclose(iv, iv2, rtol=0, atol=1e-12):
                return False, f"{name} {key}: intervals differ"
            if f.shape != f2.shape or not np.allclose(f, f2, rtol=2e-6, atol=1e-6, equal_nan=True):
                return False, f"{name} {key}: features differ"
    return True, "identical keys and intervals, features within 2e-6"


def peak_rss_mb(folder: Path) -> float:
    """Peak RSS (VmHWM: per address space, so not inherited from this process through fork/exec as
    ``ru_maxrss`` is) of a fresh process running the CLI's streaming aligner on ``folder``."""
    code = (
        "import sys,tempfile;sys.path.insert(0,%r);from mmer_tf.align import align_folder;"
        "d=tempfile.mkdtemp();align_folder(%r,d,'glove_vectors','mean','All Labels',progress=False);"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
        % (str(ROOT), str(folder))
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--sdk-path", default=None, help="directory holding the SDK's mmsdk package")
    parser.add_argument("--keep", default=None, help="generate into / reuse this folder")
    parser.add_argument("--no-sdk", action="store_true", help="skip the SDK comparison")
    parser.add_argument("--repeats", type=int, default=7, help="alternating read/align pairs (medians)")
    parser.add_argument("--sdk-repeats", type=int, default=3, help="SDK alignment runs (median)")
    parser.add_argument("--cold", type=int, default=3, metavar="N",
                        help="also N read/align pairs from a cold page cache (needs root; 0 to skip)")
    parser.add_argument("--cli-videos", type=int, default=120,
                        help="videos for the whole-process CLI vs SDK comparison (0 to skip)")
    parser.add_argument("--only-cli", action="store_true", help="run only the whole-process comparison")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_align_"))
    if args.cli_videos:
        cli_vs_sdk(base, args.cli_videos, None if args.no_sdk else (args.sdk_path or os.environ.get("MMER_SDK_PATH")),
                   args.repeats, args.sdk_repeats)
    if args.only_cli:
        return
    big, small = base / f"n{args.videos}", base / f"n{max(1, args.videos // 4)}"
    t = time.perf_counter()
    generate(big, args.videos)
    generate(small, max(1, args.videos // 4))
    size = sum(p.stat().st_size for p in big.iterdir()) / 2**20
    print(f"dataset: {args.videos} videos, {size:.0f} MiB of .csd in {big} (generated in {time.perf_counter() - t:.0f} s)")

    reads, aligns = read_vs_align(big, args.repeats)
    ours_s = statistics.median(aligns)
    _, ours_out, report = ours(big, keep=not args.no_sdk)
    with CsdReader(big / FILES["glove_vectors"]) as words_reader:
        words = sum(len(intervals) for _, intervals, _ in words_reader.items())
    print(f"reference words: {words}, aligned segments: {report.entries_out}, videos: {report.videos_out}")
    print()
    if not args.no_sdk:
        sdk_s, sdk_out = sdk(big, args.sdk_path)
        if sdk_s is None:
            print(f"SDK comparison skipped: {sdk_out}")
        else:
            sdk_times = [sdk_s] + [sdk(big, args.sdk_path)[0] for _ in range(args.sdk_repeats - 1)]
            sdk_s = statistics.median(sdk_times)
            print(f"SDK runs (s): {', '.join(f'{t:.1f}' for t in sdk_times)}")
            print(f"{'':34}{'SDK':>12}{'mmer_tf':>12}{'ratio':>10}")
            print(f"{'align words+labels time (s)':34}{sdk_s:12.2f}{ours_s:12.2f}{sdk_s / ours_s:9.1f}x")
            print(f"{'reference words / s':34}{words / sdk_s:12.0f}{words / ours_s:12.0f}")
            ok, why = same(sdk_out, ours_out)
            print(f"output check: {'OK' if ok else 'MISMATCH'}: {why}")
            print(f"(SDK: median of {len(sdk_times)} runs; mmer_tf: median of {args.repeats} runs below)")
            print()
    pair = [a / r for a, r in zip(aligns, reads)]
    print(f"{'page cache warm, alternating x' + str(args.repeats):34}{'read all':>12}{'align':>12}{'ratio':>10}")
    print(f"{'median (s)':34}{statistics.median(reads):12.3f}{ours_s:12.3f}"
          f"{ours_s / statistics.median(reads):9.2f}x")
    print(f"{'min (s)':34}{min(reads):12.3f}{min(aligns):12.3f}{min(aligns) / min(reads):9.2f}x")
    print(f"{'median of per-pair ratios':34}{'':24}{statistics.median(pair):9.2f}x  (bar: <= 2x)")
    print(f"{'input MiB/s (median)':34}{size / statistics.median(reads):12.0f}{size / ours_s:12.0f}")
    print()
    cold = cold_read_vs_align(big, args.cold) if args.cold else None
    if args.cold and cold is None:
        print("cold-cache comparison skipped: cannot write /proc/sys/vm/drop_caches (needs root)")
    elif cold:
        c_reads, c_aligns = cold
        c_pair = [a / r for a, r in zip(c_aligns, c_reads)]
        print(f"{'page cache cold, alternating x' + str(args.cold):34}{'read all':>12}{'align':>12}{'ratio':>10}")
        print(f"{'median (s)':34}{statistics.median(c_reads):12.3f}{statistics.median(c_aligns):12.3f}"
              f"{statistics.median(c_aligns) / statistics.median(c_reads):9.2f}x")
        print(f"{'median of per-pair ratios':34}{'':24}{statistics.median(c_pair):9.2f}x  (bar: <= 2x)")
        print(f"{'input MiB/s (median)':34}{size / statistics.median(c_reads):12.0f}"
              f"{size / statistics.median(c_aligns):12.0f}")
        print()
    peak_small, peak_big = peak_rss_mb(small), peak_rss_mb(big)
    print(f"peak RSS of the streaming aligner (CLI, writes output): {max(1, args.videos // 4)} videos "
          f"{peak_small:.0f} MiB, {args.videos} videos {peak_big:.0f} MiB (input {size:.0f} MiB)")
    print(f"this process (holds the SDK's whole dataset) peak RSS: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
