"""Writing files so that nothing half-written is ever seen, and telling a dead writer's leftovers.

Every output of the suite (tables, caches, computational sequences, featurized parts, sidecars, models)
is written to a hidden temporary name next to its destination and renamed into place, so a reader, a
crash or a full disk leaves either the old file or the new one. One implementation serves them all;
each caller keeps its own temporary-name pattern because its stale-file cleanup matches on it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` as the process umask leaves it: what ``open(path, "w")`` (0o666) or ``mkdir`` (0o777) gives.

    :mod:`tempfile` creates private 0600 files and 0700 folders; whatever is renamed into place gets this
    mode instead, so every output is readable the same way (0644 / 0755 usually).
    """
    current = os.umask(0o022)
    os.umask(current)
    return mode & ~current


def file_mode() -> int:
    """The mode of a plain new file under the current umask (0644 usually)."""
    return umask_mode(0o666)


def atomic_write(path: str | os.PathLike, write: Callable, *, prefix: str | None = None, suffix: str = ".tmp",
                 fsync: bool = True) -> Path:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then rename it into place.

    ``prefix`` defaults to ``.<name>.`` (hidden). With ``fsync`` the data reaches the disk before the
    rename. Any failure, including Ctrl-C, removes the temporary file and re-raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix if prefix is not None else f".{path.name}.",
                               suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, **options) -> Path:
    """:func:`atomic_write` of ``text`` as UTF-8 (newlines written as given)."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda handle: handle.write(data), **options)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs here: a temporary file named by a dead pid is a leftover."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but not ours to signal
        return True
    return True
