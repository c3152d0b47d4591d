"""Sweeps: a grid or a file of runs -> lines of main.py flags per seed, minus the runs already recorded.

``python -m mmer_tf sweep FILE [--seeds 1,2,3] [--pending] [--out LINES]`` prints / writes the lines;
``python -m mmer_tf sweep FILE [--seeds 1,2,3] --local N [--logs logs]`` runs them here, N at a time.
The file formats and the matching of recorded runs: :mod:`mmer_tf.sweep`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from mmer_tf.errors import report_errors


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mmer_tf sweep", description=__doc__.splitlines()[0])
    parser.add_argument("sweep", help="sweep file: .yaml/.yml or .csv grid, or lines of main.py flags")
    parser.add_argument("--seeds", default="", help="comma-separated seeds: every line once per seed")
    parser.add_argument("--pending", action="store_true", help="drop lines that already have a row")
    parser.add_argument("--out", default="", help="write the lines to this file (atomically) instead of stdout")
    parser.add_argument("--local", type=int, default=0, metavar="N", help="run the pending lines here, N at a time")
    parser.add_argument("--logs", default="logs", help="folder for the per-task logs of --local")
    return parser


def _sweep(args) -> int:
    from mmer_tf import sweep

    lines = sweep.with_seeds(sweep.read_sweep(args.sweep), sweep.parse_seeds(args.seeds) if args.seeds else None)
    total = len(lines)
    if args.pending or args.local:
        lines = sweep.pending(lines)
        print(f"{args.sweep}: {total} runs, {total - len(lines)} already recorded, {len(lines)} to run",
              file=sys.stderr)
    if args.local:
        return 1 if sweep.run_local(lines, args.local, logs=args.logs) else 0
    text = "".join(line + "\n" for line in lines)
    if args.out:
        from mmer_tf.fileio import atomic_write_text

        atomic_write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return report_errors(lambda: _sweep(args))


if __name__ == "__main__":
    from mmer_tf.cli import script

    script(main)
