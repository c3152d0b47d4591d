"""``--split_dir DIR``: a split definition read from files, for any raw-media corpus.

The layout is seed 002's ``folds/<corpus>/split-K/``: ``train.txt``, ``val.txt`` (or ``valid.txt``) and
``test.txt``, one clip per line as ``<Class-Folder>/<clip>,<class id>[,<transcript>]`` (the transcript may
hold commas; only the first two fields are read), and optionally ``class_id.yaml`` (``Class Name: id``
lines). A line names a clip by its path without suffix; it matches the clip whose id is that path (``/``
written ``__``) or, failing that, the clip whose id is its last part (a whole video named by its file).
With ``class_id.yaml`` the listed class must be the clip's own class, so a split file from another
labelling is refused instead of silently mixing classes. Clips in no list are left out (counted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from mmer_tf.errors import MmerError

FILES = {"train": ("train.txt",), "valid": ("val.txt", "valid.txt"), "test": ("test.txt",)}
CLASS_IDS = "class_id.yaml"


def split_files(folder: str | Path) -> dict[str, Path]:
    """``{fold: file}`` of a split folder (one-line error naming what is missing)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MmerError(f"--split_dir {folder}: not a folder")
    found = {}
    for fold, names in FILES.items():
        path = next((folder / n for n in names if (folder / n).is_file()), None)
        if path is None:
            raise MmerError(f"--split_dir {folder}: no {' or '.join(names)}")
        found[fold] = path
    return found


def key_files(folder: str | Path) -> list[Path]:
    """Every file of the split definition (they key the cache)."""
    files = list(split_files(folder).values())
    yaml = Path(folder) / CLASS_IDS
    return files + ([yaml] if yaml.is_file() else [])


def read_class_ids(path: Path) -> dict[int, str]:
    """``class_id.yaml`` (``Name: id`` per line, the seed's format) -> ``{id: name}``."""
    out = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.rpartition(":")
        try:
            out[int(value.strip())] = name.strip().strip("'\"")
        except ValueError:
            raise MmerError(f"{path} line {number}: expected 'Class Name: id', got {line.strip()!r}") from None
        if not sep or not name.strip():
            raise MmerError(f"{path} line {number}: expected 'Class Name: id', got {line.strip()!r}")
    return out


def read_lists(folder: str | Path) -> dict[str, tuple[str, int | None, str]]:
    """``{listed clip path: (fold, class id or None, where)}`` over the three files."""
    listed: dict[str, tuple[str, int | None, str]] = {}
    for fold, path in split_files(folder).items():
        for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split(",", 2)
            name = parts[0].strip()
            class_id = None
            if len(parts) > 1 and parts[1].strip():
                try:
                    class_id = int(parts[1])
                except ValueError:
                    raise MmerError(f"{path} line {number}: class id {parts[1]!r} is not an integer") from None
            where = f"{path} line {number}"
            if name in listed:
                raise MmerError(f"{where}: {name} is already listed in {listed[name][2]}")
            listed[name] = (fold, class_id, where)
    return listed


def _clip_key(name: str) -> str:
    return name.replace("\\", "/").rsplit(".", 1)[0] if "." in name.rsplit("/", 1)[-1] else name


def apply(folder: str | Path, rows: Sequence[dict], labelling):
    """``labelling`` with every clip's fold taken from the split files (unlisted clips excluded)."""
    from mmer_tf.data.corpora.media import Labelling, clip_id

    listed = read_lists(folder)
    yaml = Path(folder) / CLASS_IDS
    names = read_class_ids(yaml) if yaml.is_file() else None
    by_id = {clip_id(_clip_key(name)): name for name in listed}
    by_last = {}
    for name in listed:
        by_last.setdefault(clip_id(_clip_key(name).rsplit("/", 1)[-1]), []).append(name)
    folds, excluded = list(labelling.fold), list(labelling.excluded)
    labels = list(labelling.label)
    for i, row in enumerate(rows):
        name = by_id.get(row["id"])
        if name is None and len(by_last.get(row["id"], [])) == 1:
            name = by_last[row["id"]][0]
        if name is None:
            if labels[i] is not None:
                labels[i], folds[i], excluded[i] = None, None, "not listed in --split_dir"
            continue
        fold, class_id, where = listed[name]
        if labels[i] is None:  # left out by the corpus's own labelling (e.g. Other without its flag)
            continue
        folds[i] = fold
        if names is not None and class_id is not None:
            listed_class = names.get(class_id)
            own = labelling.classes[labels[i]]
            if listed_class is not None and listed_class != own:
                raise MmerError(f"{where}: {name} is listed as {listed_class} (id {class_id}) but the corpus "
                                f"labels it {own}")
    protocol = {"by": "--split_dir", "split_dir": str(folder)}
    return Labelling(labelling.classes, labels, folds, excluded, f"split from {folder}", protocol,
                     scores=labelling.scores)


__all__ = ["apply", "key_files", "read_class_ids", "read_lists", "split_files"]
