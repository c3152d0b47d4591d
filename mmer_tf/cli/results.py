"""Add the rows a run saved in unrecorded_run<id>.json (its tables could not be written) to its tables.

``python -m mmer_tf results record FILE...``; the file and the all-or-nothing append:
:mod:`mmer_tf.results.unrecorded`.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from mmer_tf.errors import report_errors


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mmer_tf results",
                                     description="Add the rows of unrecorded_run<id>.json files to their tables.")
    parser.add_argument("command", choices=["record"])
    parser.add_argument("files", nargs="+")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def body() -> int:
        from mmer_tf.results import record_unrecorded

        for file in args.files:
            print(f"run {record_unrecorded(file)}: rows added from {file}")
        return 0

    return report_errors(body)


if __name__ == "__main__":
    from mmer_tf.cli import script

    script(main)
