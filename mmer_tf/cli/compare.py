"""Rank the runs recorded in result tables; groups with intervals, tests between two groups, plot, CSV.

``python -m mmer_tf compare [MODELS_DIR ...] [--table T] [--metric M] [--by COLS] [--test A B]``; how tables
are found, ranked, grouped and tested: :mod:`mmer_tf.compare`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from mmer_tf.errors import MmerError, report_errors


def _parser() -> argparse.ArgumentParser:
    from mmer_tf import tasks

    parser = argparse.ArgumentParser(
        prog="python -m mmer_tf compare", description="Rank runs recorded in mmer_tf result tables.")
    parser.add_argument("models_dirs", nargs="*", default=["models"], metavar="MODELS_DIR",
                        help="folders holding <model>/<csv folder>/ tables (default: models)")
    parser.add_argument("--table", choices=sorted(tasks.default_metrics()), default="dominant",
                        help="which metric table to rank (default: dominant)")
    parser.add_argument("--metric", help="metric column to rank by (default: " + ", ".join(
        f"{metric} for {table}" for table, metric in tasks.default_metrics().items()) + ")")
    parser.add_argument("--top", type=int, default=20, help="rows to print and plot (default: 20)")
    parser.add_argument("--by", default="", help="comma-separated columns: rank groups of runs by their mean")
    parser.add_argument("--plot", help="write a PNG bar chart of the ranking here")
    parser.add_argument("--csv", help="write the full ranked table here")
    parser.add_argument("--decimals", type=int, default=4, help="decimals printed (default: 4)")
    parser.add_argument("--test", nargs=2, metavar=("A", "B"),
                        help="test two groups: values of the --by columns, or run-id sets (3,4 or ef#3,tfn#1)")
    parser.add_argument("--threshold", type=float, help="presence table: only the rows of this threshold")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="resamples of the bootstrap interval of a one-run group with -sp predictions "
                             "(default: 1000; 0: no bootstrap, the interval is n/a)")
    return parser


def _one_run_interval(table: str, metric: str, resamples: int):
    """A one-run group's interval: a bootstrap over its saved test predictions (-sp)."""
    from mmer_tf import compare, segment_bootstrap

    family = compare.TableSet(Path("."), "", "").path(table).stem
    return lambda row: segment_bootstrap.interval(row, family, metric, resamples=resamples)


def _compare(args) -> int:
    import pandas as pd

    from mmer_tf import compare, tasks
    from mmer_tf.fileio import atomic_write_text

    if args.top < 1:
        raise MmerError(f"--top {args.top}: must be at least 1")
    frame, metrics, params = compare.load(args.models_dirs, args.table)
    metric = args.metric or tasks.default_metrics()[args.table]
    if metric not in metrics:
        raise MmerError(f"--metric {metric}: not in the {args.table} table; available: {', '.join(metrics)}")
    by = [c.strip() for c in args.by.split(",") if c.strip()]
    unknown = [c for c in by if c not in frame.columns]
    if unknown:
        choices = ["model", *params]
        raise MmerError(f"--by {','.join(unknown)}: no such column; available: {', '.join(choices)}")
    if args.bootstrap < 0 or 0 < args.bootstrap < 10:
        raise MmerError(f"--bootstrap {args.bootstrap}: 0 (off) or at least 10 resamples")
    if args.threshold is not None:
        if "threshold" not in frame.columns:
            raise MmerError(f"--threshold: the {args.table} table has no threshold column")
        frame = frame[pd.to_numeric(frame["threshold"], errors="coerce") == args.threshold]
        if frame.empty:
            raise MmerError(f"--threshold {args.threshold:g}: no rows at that threshold")
    if args.test:
        for line in compare.describe_test(frame, metric, args.test, by, args.decimals):
            print(line)
        return 0
    single = _one_run_interval(args.table, metric, args.bootstrap) if by and args.bootstrap else None
    ranking = compare.rank(frame, metric, params, by=by, top=args.top, decimals=args.decimals,
                           single_interval=single)
    direction = "lower" if compare.lower_is_better(metric) else "higher"
    sets = frame["model"].nunique()
    print(f"{args.table}: {metric} ({direction} is better), {len(frame)} rows from {sets} table set(s)"
          + (f", grouped by {','.join(by)}" if by else ""))
    print(ranking.shown.to_string(index=False))
    if by:
        print("± is the sample std (ddof=1); 95% CI: Student t over the group's runs, a bootstrap over test "
              "segments for one run with saved predictions (-sp), else n/a")
    if args.csv:
        atomic_write_text(args.csv, ranking.full.to_csv(index=False, float_format=None))
    if args.plot:
        from mmer_tf.plots import plot_compare

        plot_compare(ranking.labels, ranking.values, args.plot, metric=metric, errors=ranking.errors,
                     points=ranking.points, title=f"{args.table}: {metric}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = report_errors(_parser, error_exit=1)  # a broken plugin task: its one line
    if isinstance(parser, int):
        return parser
    args = parser.parse_args(argv)
    return report_errors(lambda: _compare(args), error_exit=1)


if __name__ == "__main__":
    from mmer_tf.cli import script

    script(main)
