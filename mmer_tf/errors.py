"""The one exception type a user can cause, and the one way every entry point reports it.

Anything raised as :class:`MmerError` is printed by the command-line entry points as a single line
(``error: <message>``) with a non-zero exit, instead of a traceback: the message must name the file,
video or flag at fault and say what is wrong with it. :func:`report_errors` is that epilogue, shared by
``main.py`` and every command of :mod:`mmer_tf.cli`, so they cannot drift apart.
"""

from __future__ import annotations

import sys
from typing import Callable

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C'd command


class MmerError(Exception):
    """A problem with the user's input (file, flag value, corpus), reported as one line."""


def os_error_line(exc: OSError) -> str:
    """A file system refusal no check foresaw (read-only folder, full disk, a file where a folder should
    be) as one line naming the path."""
    where = exc.filename or ""
    what = exc.strerror or str(exc)
    return f"error: {where}: {what}" if where else f"error: {what}"


def report_errors(body: Callable[[], int], *, error_exit: int = 2, interrupted: str = "interrupted") -> int:
    """``body()``'s exit code; a user error or a file system refusal is one ``error:`` line on stderr and
    ``error_exit``, Ctrl-C the ``interrupted`` line and :data:`EXIT_INTERRUPTED`."""
    try:
        return body()
    except MmerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return error_exit
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(os_error_line(exc), file=sys.stderr)
        return error_exit
