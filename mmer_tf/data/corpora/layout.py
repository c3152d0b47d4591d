"""Finding a corpus's own folders (``Actor_XX``, ``AudioWAV`` ...) below the path a user gave, and the
media files in them whose names the corpus's naming scheme reads.

Detection asks every adapter about every ``-df`` path, so the folder search reads directory entries only
(never the thousands of media files beside them) and stops a few levels down.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

from mmer_tf.errors import MmerError


def find_dirs(path: Path, matches, depth: int = 3) -> list[Path]:
    """Folders below ``path`` (not ``path`` itself), up to ``depth`` levels down, whose names ``matches``,
    sorted; the search does not descend into a match, and passes over a folder it cannot read."""
    path = Path(path)
    if not path.is_dir():
        return []
    found, level = [], [path]
    for _ in range(depth):
        below = []
        for folder in level:
            try:
                entries = [e for e in os.scandir(folder) if e.is_dir()]
            except OSError:
                continue
            for entry in entries:
                (found if matches(entry.name) else below).append(Path(entry.path))
        level = below
    return sorted(found)


def named_files(folder: Path, suffixes: tuple[str, ...], parse: Callable[[str], dict], scan, corpus: str
                ) -> Iterator[tuple[Path, dict]]:
    """``(file, parse(stem))`` for the files of ``folder`` with one of ``suffixes``, by name; a file whose
    name ``parse`` refuses (``MmerError``) is counted in ``scan`` as not a ``corpus`` file name."""
    for file in sorted(Path(folder).iterdir()):
        if not file.is_file() or file.suffix.lower() not in suffixes:
            continue
        try:
            fields = parse(file.stem)
        except MmerError:
            scan.skip(f"not a {corpus} file name", file.name)
            continue
        yield file, fields
