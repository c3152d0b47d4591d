"""The command-line entry points, one module per command: ``python -m mmer_tf <command> [args]``.

``python -m mmer_tf --help`` lists them; ``python -m mmer_tf.cli.<command>`` runs one directly. Each
command module holds the argument parsing, the one-line error handling (:func:`mmer_tf.errors.report_errors`)
and ``main(argv) -> exit code``; the work itself lives in the library module it calls (``align`` in
:mod:`mmer_tf.align`, ``compare`` in :mod:`mmer_tf.compare`, ...). Training is ``python main.py``.

The package's modules are the list of commands (no second list): a command is one file here whose
docstring's first line is its summary. Modules whose names start with ``_`` are not commands.
Command modules import their library inside ``main``, so listing them and ``--help`` load no backend.
"""

from __future__ import annotations

import ast
import pkgutil
import sys
from pathlib import Path
from typing import Callable, Sequence

_HERE = Path(__file__).resolve().parent


def commands() -> dict[str, str]:
    """``{command: one-line summary}``, read from the modules' docstrings without importing them."""
    out = {}
    for info in sorted(pkgutil.iter_modules([str(_HERE)]), key=lambda m: m.name):
        if info.name.startswith("_") or info.ispkg:
            continue
        tree = ast.parse((_HERE / f"{info.name}.py").read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree) or ""
        out[info.name] = doc.strip().splitlines()[0] if doc.strip() else ""
    return out


def script(main: Callable[[Sequence[str]], int], argv: Sequence[str] | None = None) -> None:
    """Run a command as the process's entry point: the native libraries' log lines off the terminal
    (workers included, :mod:`mmer_tf.native_logs`), then exit with ``main``'s code."""
    from mmer_tf.native_logs import filter_native_stderr

    filter_native_stderr(sys.argv)
    sys.exit(main(sys.argv[1:] if argv is None else list(argv)))
