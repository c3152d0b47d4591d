"""``python -m mmer_tf <command> [args]``: the suite's commands (``python -m mmer_tf --help`` lists them).

Training is ``python main.py [flags]``; every other command is a module of :mod:`mmer_tf.cli`, which is
also runnable directly as ``python -m mmer_tf.cli.<command>``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

HELP_ARGS = ("-h", "--help", "help")


def usage() -> str:
    from mmer_tf import cli

    listed = cli.commands()
    width = max(map(len, listed))
    lines = ["usage: python -m mmer_tf <command> [args]   (python -m mmer_tf <command> --help for its options)",
             "", "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, summary in listed.items()]
    lines += ["", "training: python main.py [flags]   (python main.py --help)"]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    from mmer_tf import cli

    argv = list(argv)
    if not argv or argv[0] in HELP_ARGS:
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name = argv[0]
    if name not in cli.commands():
        print(f"error: unknown command {name!r}; choose one of {', '.join(cli.commands())} "
              "(training: python main.py)", file=sys.stderr)
        return 2
    return importlib.import_module(f"mmer_tf.cli.{name}").main(argv[1:])


if __name__ == "__main__":
    from mmer_tf.cli import script

    script(main)
