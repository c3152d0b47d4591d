"""One self-contained HTML page of the runs' findings: rankings, intervals, curves, robustness, searches.

``python -m mmer_tf report [MODELS_DIR ...] --out report.html``; what the page holds: :mod:`mmer_tf.report`.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from mmer_tf.errors import MmerError, report_errors


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mmer_tf report",
                                     description="One self-contained HTML page of the runs' findings.")
    parser.add_argument("models_dirs", nargs="*", default=["models"], metavar="MODELS_DIR",
                        help="folders holding <model>/<csv folder>/ tables (default: models)")
    parser.add_argument("--out", default="report.html", help="HTML file to write (default: report.html)")
    parser.add_argument("--top", type=int, default=5, help="runs shown per table (default: 5)")
    parser.add_argument("--title", default="mmer_tf findings", help="page title")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="resamples of the interval of a one-run group with -sp predictions (default: 1000; "
                             "0: n/a, faster)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def body() -> int:
        from mmer_tf import report
        from mmer_tf.fileio import atomic_write_text

        if args.top < 1:
            raise MmerError(f"--top {args.top}: must be at least 1")
        if args.bootstrap < 0 or 0 < args.bootstrap < 10:
            raise MmerError(f"--bootstrap {args.bootstrap}: 0 (off) or at least 10 resamples")
        page = report.build(args.models_dirs, top=args.top, title=args.title, bootstrap=args.bootstrap)
        atomic_write_text(args.out, page)
        print(f"wrote {args.out} ({len(page) // 1024} KiB)")
        return 0

    return report_errors(body, error_exit=1)


if __name__ == "__main__":
    from mmer_tf.cli import script

    script(main)
