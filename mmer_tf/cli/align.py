"""Align every .csd of a CSD dataset to a reference sequence, the SDK way, without the SDK.

``python -m mmer_tf align IN_DIR OUT_DIR --reference glove_vectors [--collapse mean|none]
[--labels "All Labels"] [--jobs N]``; what it does and refuses: :mod:`mmer_tf.align`.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from mmer_tf.errors import MmerError, report_errors


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmer_tf align",
        description="Align every computational sequence (.csd) of IN_DIR to a reference sequence "
        "(CMU Multimodal SDK semantics) and write the aligned sequences to OUT_DIR.",
    )
    parser.add_argument("in_dir", help="folder of .csd files")
    parser.add_argument("out_dir", help="folder for the aligned .csd files (same file names); must hold no input")
    parser.add_argument("--reference", default="glove_vectors", help="root name of the reference sequence")
    parser.add_argument("--collapse", choices=("mean", "none"), default="mean",
                        help="collapse other sequences to one row per reference interval (default: mean)")
    parser.add_argument("--labels", default=None,
                        help="root name of a labels sequence to align to afterwards (e.g. 'All Labels')")
    parser.add_argument("--jobs", type=int, default=None,
                        help="0: write every output in this process; any other value: each sequence in its "
                        "own process (the default on a multi-core machine)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def body() -> int:
        from mmer_tf.align import align_folder

        if args.jobs is not None and args.jobs < 0:
            raise MmerError(f"--jobs {args.jobs}: must be >= 0")
        report = align_folder(args.in_dir, args.out_dir, args.reference,
                              None if args.collapse == "none" else args.collapse, args.labels,
                              progress=not args.quiet, jobs=args.jobs)
        for line in report.lines():
            print(line)
        print(f"written to: {args.out_dir}")
        return 0

    return report_errors(body, interrupted="error: interrupted; nothing written (earlier outputs are unchanged)")


if __name__ == "__main__":
    from mmer_tf.cli import script

    script(main)
