"""Folders of pre-extracted per-segment features (the seed ``003`` challenge layout) as a corpus.

Layout::

    ROOT/labels.csv                          id,split,label | id,split,<score> | id,split,happy,sad,...
    ROOT/<split>/<modality>/<segment id>.npy   (or .npz holding one array)

``<split>`` is ``train``, ``val``/``valid``/``dev`` and ``test``; the CSV's ``split`` column says where each
labelled segment's files are (``info["fold"]``). Modality folders carrying the usual names are mapped by
default (``FOLDER_NAMES``: ``speech``/``audio``/``wav`` -> audio, ``face``/``video``/``visual``/
``video_embedding``/``vision`` -> vision, ``text``/``words`` -> text); ``--modality_map speech=audio,...``
maps any others, or picks one when two folders claim one modality (a one-line question otherwise). A map
adds to the defaults: a third folder named ``text`` stays text. Folders that map to nothing are ignored
and listed in the summary. A file holds
``[T, D]`` (a sequence) or ``[D]`` (one vector: a one-step sequence, so every model takes it).

Labels (see CONTRACTS): a ``label`` column -> ``("category",)``, classes sorted by name (by value when
all are integers), the class index
stored as float; one numeric column -> ``("sentiment",)``, in [-3, 3]; the six CMU-MOSEI emotion columns
-> the CMU-MOSEI seven (sentiment from a ``sentiment`` column, else NaN), emotions in [0, 3].

A segment lacking a modality's file, or whose file is empty or all NaN, is handled by
``--missing``: ``drop`` (default) drops the segment, ``impute`` gives it one all-zero step, ``error``
stops with the file named. The summary counts each (modality, reason) and names the first ids. Bad
input -- labels.csv missing or malformed, a labelled id with no feature file at all, an unreadable or
mis-shaped file, a split left with no segments -- is one :class:`~mmer_tf.errors.MmerError` line.
"""

from __future__ import annotations

import csv
import io
import logging
import time
import zipfile
from pathlib import Path

import numpy as np

from mmer_tf.data.corpora import padded
from mmer_tf.data.text_files import read_text
from mmer_tf.data.corpora.base import CorpusInfo
from mmer_tf.data.segments import EMOTIONS, FOLDS, LABEL_NAMES, MODALITIES, SegmentSet
from mmer_tf.errors import MmerError

log = logging.getLogger(__name__)

NAME = "features"
LABELS_FILE = "labels.csv"
SPLIT_FOLDERS = {"train": ("train",), "valid": ("val", "valid", "dev"), "test": ("test",)}
SPLIT_VALUES = {"train": "train", "val": "valid", "valid": "valid", "dev": "valid", "test": "test"}
SUFFIXES = (".npy", ".npz")
MISSING_POLICIES = ("drop", "impute", "error")
ADAPTER_VERSION = 1


def detect(path: Path) -> bool:
    path = Path(path)
    if not path.is_dir() or not (path / LABELS_FILE).is_file():
        return False
    return any((path / name).is_dir() for names in SPLIT_FOLDERS.values() for name in names)


def split_folders(root: Path) -> dict[str, Path]:
    """``{fold: ROOT/<folder>}`` for the three folds, or a one-line error."""
    out = {}
    for fold, names in SPLIT_FOLDERS.items():
        present = [root / n for n in names if (root / n).is_dir()]
        if len(present) > 1:
            raise MmerError(f"{root}: both {' and '.join(p.name for p in present)} exist; keep one {fold} folder")
        if not present:
            raise MmerError(f"{root}: no {fold} split folder (expected {' or '.join(names)}/) -- the split has no segments")
        out[fold] = present[0]
    return out


def parse_modality_map(entries) -> dict[str, str]:
    """``("speech=audio", ...)`` -> ``{"speech": "audio"}``, or a one-line error naming the flag."""
    mapping: dict[str, str] = {}
    for entry in entries or ():
        name, sep, modality = str(entry).partition("=")
        name, modality = name.strip(), modality.strip()
        if not sep or not name or modality not in MODALITIES:
            raise MmerError(f"--modality_map {entry!r}: expected folder=modality with modality one of {', '.join(MODALITIES)}")
        if name in mapping:
            raise MmerError(f"--modality_map: folder {name!r} mapped twice")
        if modality in mapping.values():
            raise MmerError(f"--modality_map: two folders map to {modality!r}")
        mapping[name] = modality
    return mapping


# The folder names feature-extraction pipelines (the seed 003 layout among them) use for each modality.
FOLDER_NAMES = {
    "text": "text", "words": "text",
    "audio": "audio", "speech": "audio", "wav": "audio",
    "vision": "vision", "face": "vision", "video": "vision", "visual": "vision", "video_embedding": "vision",
}


def modality_folders(root: Path, folds: dict[str, Path], config) -> tuple[dict[str, str], list[str]]:
    """``({folder name: modality}, ignored folder names)``: ``--modality_map`` first, then the usual names."""
    names = sorted({p.name for folder in folds.values() for p in folder.iterdir() if p.is_dir()})
    if not names:
        raise MmerError(f"{root}: no modality folders under {', '.join(p.name for p in folds.values())}")
    mapping = parse_modality_map(getattr(config, "modality_map", ()))
    unknown = [n for n in mapping if n not in names]
    if unknown:
        raise MmerError(f"--modality_map: no folder named {', '.join(unknown)} in {root} (folders: {', '.join(names)})")
    claims: dict[str, list[str]] = {}
    for name in names:
        modality = FOLDER_NAMES.get(name.lower())
        if name not in mapping and modality is not None and modality not in mapping.values():
            claims.setdefault(modality, []).append(name)
    for modality, folders in claims.items():
        if len(folders) > 1:
            raise MmerError(f"{root}: folders {' and '.join(folders)} both hold {modality}; which one? say it with "
                            f"--modality_map {folders[-1]}={modality} (the other is then ignored)")
        mapping[folders[0]] = modality
    if not mapping:
        raise MmerError(
            f"{root}: modality folders {', '.join(names)} are not text/audio/vision nor a usual name for one; map "
            f"them with --modality_map folder=modality,... (e.g. --modality_map {names[0]}=audio)"
        )
    return mapping, [n for n in names if n not in mapping]


def read_labels(root: Path) -> tuple[tuple[str, ...], list[dict], tuple[str, ...]]:
    """``(label_names, rows, classes)`` from labels.csv; rows hold ``id``, ``fold``, ``line`` and ``values``."""
    path = root / LABELS_FILE
    try:
        table = list(csv.reader(io.StringIO(read_text(path), newline="")))  # UTF-8, or UTF-16 with BOM
    except FileNotFoundError:
        raise MmerError(f"{path}: missing (a feature folder needs labels.csv: id,split,label or id,split,<score>)") from None
    except (OSError, csv.Error) as exc:
        raise MmerError(f"{path}: unreadable ({exc})") from None
    if not table:
        raise MmerError(f"{path}: empty file")
    header = [h.strip().lower() for h in table[0]]
    if "id" not in header or "split" not in header or len(set(header)) != len(header):
        raise MmerError(f"{path}: header {','.join(table[0])!r} needs distinct columns id and split")
    others = [h for h in header if h not in ("id", "split")]
    if "label" in others:
        kind, columns = "category", ["label"]
    elif set(EMOTIONS) <= set(others):
        kind, columns = "emotions", [c for c in LABEL_NAMES if c in others]
    elif len(others) == 1:
        kind, columns = "score", others
    else:
        raise MmerError(
            f"{path}: label columns {','.join(others) or '(none)'}: expected 'label' (categorical), one numeric "
            f"score column, or the six emotions {','.join(EMOTIONS)}"
        )
    index = {h: i for i, h in enumerate(header)}
    rows, seen = [], {}
    for line, row in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise MmerError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}")
        seg = row[index["id"]].strip()
        split = row[index["split"]].strip().lower()
        if not seg:
            raise MmerError(f"{path}: line {line}: empty id")
        if split not in SPLIT_VALUES:
            raise MmerError(f"{path}: line {line}: split {row[index['split']]!r} is not train, val/valid/dev or test")
        fold = SPLIT_VALUES[split]
        if (seg, fold) in seen:
            raise MmerError(f"{path}: line {line}: segment {seg!r} ({fold}) repeats line {seen[(seg, fold)]}")
        seen[(seg, fold)] = line
        rows.append({"id": seg, "fold": fold, "line": line, "values": [row[index[c]].strip() for c in columns]})
    if not rows:
        raise MmerError(f"{path}: no labelled segments")
    if kind == "category":
        names = {r["values"][0] for r in rows}
        numeric = all(n.lstrip("-").isdigit() for n in names)  # "2" before "10" when classes are numbers
        classes = tuple(sorted(names, key=(lambda n: (int(n), n)) if numeric else None))
        if "" in classes:
            line = next(r["line"] for r in rows if not r["values"][0])
            raise MmerError(f"{path}: line {line}: empty label")
        return ("category",), rows, classes
    for r in rows:
        values = []
        for column, cell in zip(columns, r["values"]):
            try:
                value = float(cell)
            except ValueError:
                raise MmerError(f"{path}: line {r['line']}: {column} {cell!r} is not a number") from None
            low, high = (-3.0, 3.0) if column in ("sentiment",) or kind == "score" else (0.0, 3.0)
            if not np.isfinite(value) or not low <= value <= high:
                raise MmerError(f"{path}: line {r['line']} (segment {r['id']!r}): {column} {cell} is not in [{low:g}, {high:g}]")
            values.append(value)
        if kind == "emotions":
            values = [values[columns.index(c)] if c in columns else np.nan for c in LABEL_NAMES]
        r["values"] = values
    return (LABEL_NAMES if kind == "emotions" else ("sentiment",)), rows, ()


def _feature_files(folds: dict[str, Path], mapping: dict[str, str]) -> dict[tuple[str, str], dict[str, Path]]:
    """``{(fold, folder name): {segment id: file}}`` for the used modality folders."""
    found = {}
    for fold, folder in folds.items():
        for name in mapping:
            files = {}
            directory = folder / name
            if directory.is_dir():
                for p in sorted(directory.iterdir()):
                    if p.suffix in SUFFIXES and p.is_file():
                        files.setdefault(p.stem, p)
            found[(fold, name)] = files
    return found


def _layout(root: Path, config):
    """What ``describe`` and ``load_segments`` both read: labels, split folders, modality mapping, policy."""
    label_names, rows, classes = read_labels(root)
    folds = split_folders(root)
    mapping, ignored = modality_folders(root, folds, config)
    policy = getattr(config, "missing_modality", "drop")
    if policy not in MISSING_POLICIES:
        raise MmerError(f"--missing {policy!r}: expected one of {', '.join(MISSING_POLICIES)}")
    return label_names, rows, classes, folds, mapping, ignored, policy


def describe(path: Path, config) -> CorpusInfo:
    root = Path(path)
    if not root.is_dir():
        raise MmerError(f"-df {root}: a feature folder corpus is a directory (ROOT/<split>/<modality>/<id>.npy + labels.csv)")
    label_names, _, classes, folds, mapping, _, missing = _layout(root, config)
    files = [root / LABELS_FILE]
    for per_segment in _feature_files(folds, mapping).values():
        files.extend(per_segment.values())
    return CorpusInfo(
        name=NAME, path=root, files=tuple(files), label_names=label_names, classes=classes,
        params={"modality_map": sorted(f"{k}={v}" for k, v in mapping.items()), "missing": missing,
                "adapter_version": ADAPTER_VERSION},
        has_own_split=True,
        description=f"feature folder ({', '.join(f'{k}->{v}' for k, v in mapping.items())}; labels {','.join(label_names)})",
    )


def read_feature(path: Path) -> np.ndarray:
    """One feature file as ``[T, D]`` float32 (a ``[D]`` vector becomes one step), or a one-line error."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                keys = list(npz.files)
                if len(keys) != 1:
                    raise MmerError(f"{path}: holds {len(keys)} arrays ({', '.join(keys) or 'none'}); expected exactly one")
                array = npz[keys[0]]
        else:
            array = np.load(path, allow_pickle=False)
    except MmerError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MmerError(f"{path}: not a readable numeric .npy/.npz ({str(exc)[:100]})") from None
    if array.dtype.kind not in "fiub":
        raise MmerError(f"{path}: dtype {array.dtype} is not numeric")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise MmerError(f"{path}: shape {array.shape}, expected [T, D] or [D]")
    return array.astype(np.float32, copy=False)


def _reason(modality: str, problem: str) -> str:
    """The summary's reason key, worded for the runner's "dropped N <reason>, e.g. ..." line."""
    return {
        "missing file": f"segments with no {modality} file",
        "empty (0 steps)": f"segments whose {modality} file has no steps",
        "all NaN": f"segments whose {modality} file is all NaN",
    }[problem]


def load_segments(corpus: CorpusInfo, config, progress: bool) -> tuple[SegmentSet, dict]:
    root = Path(corpus.path)
    label_names, rows, classes, folds, mapping, ignored, policy = _layout(root, config)
    files = _feature_files(folds, mapping)
    modality_of = dict(mapping)
    dims: dict[str, tuple[int, Path]] = {}
    features: dict[str, list] = {m: [] for m in modality_of.values()}
    kept_rows = []
    dropped: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    imputed: dict[str, int] = {}
    imputed_examples: dict[str, list[str]] = {}
    started, last_report = time.perf_counter(), time.perf_counter()
    bar = None
    if progress and len(rows) > 2000:
        from tqdm import tqdm

        bar = tqdm(total=len(rows), unit=" segments", desc="reading features", leave=False)
    for number, row in enumerate(rows, start=1):
        per_modality, problems = {}, []
        for name, modality in modality_of.items():
            path = files[(row["fold"], name)].get(row["id"])
            if path is None:
                problems.append((modality, "missing file", folds[row["fold"]] / name / f"{row['id']}.npy"))
                continue
            array = read_feature(path)
            if array.shape[0] == 0:
                problems.append((modality, "empty (0 steps)", path))
                continue
            if np.isnan(array).all():
                problems.append((modality, "all NaN", path))
                continue
            dim, first = dims.setdefault(modality, (array.shape[1], path))
            if array.shape[1] != dim:
                raise MmerError(f"{path}: {array.shape[1]} features per step, but {first} has {dim} ({name} -> {modality})")
            per_modality[modality] = array
        if len(problems) == len(modality_of) and all(reason == "missing file" for _, reason, _ in problems):
            where = ", ".join(f"{folds[row['fold']].name}/{n}/" for n in modality_of)
            raise MmerError(
                f"{root / LABELS_FILE}: line {row['line']}: segment {row['id']!r} ({row['fold']}) has no feature file in {where}"
            )
        if problems and policy == "error":
            modality, reason, path = problems[0]
            raise MmerError(f"{path}: {reason} for segment {row['id']!r} ({modality}); use --missing drop or impute")
        if problems and policy == "drop":
            for modality, reason, _ in problems:
                padded.note_dropped(dropped, examples, _reason(modality, reason), [row["id"]])
            continue
        for modality, reason, _ in problems:  # impute: filled with zeros once every dimension is known
            padded.note_dropped(imputed, imputed_examples, _reason(modality, reason), [row["id"]])
            per_modality[modality] = None
        for modality in features:
            features[modality].append(per_modality[modality])
        kept_rows.append(row)
        if bar is not None:
            bar.update(number - bar.n)
        elif progress and time.perf_counter() - last_report > 10:
            last_report = time.perf_counter()
            log.info("read %d/%d segments (%.0f/s)", number, len(rows), number / (last_report - started))
    if bar is not None:
        bar.close()
    for modality, seqs in features.items():
        if modality not in dims:
            raise MmerError(f"{root}: modality {modality!r} has no usable feature file at all")
        zero = np.zeros((1, dims[modality][0]), dtype=np.float32)
        features[modality] = [zero if s is None else s for s in seqs]
    counts = {fold: sum(r["fold"] == fold for r in kept_rows) for fold in FOLDS}
    for fold, count in counts.items():
        if count == 0:
            why = f" after dropping {sum(dropped.values())} incomplete segments" if dropped else ""
            raise MmerError(f"{root}: split {fold!r} ({folds[fold].name}/) has no segments{why}")
    if label_names == ("category",):
        lookup = {c: i for i, c in enumerate(classes)}
        labels = np.array([[lookup[r["values"][0]]] for r in kept_rows], dtype=np.float32)
    else:
        labels = np.array([r["values"] for r in kept_rows], dtype=np.float32).reshape(len(kept_rows), len(label_names))
    ids, renamed = padded.unique([r["id"] for r in kept_rows])
    modalities = list(features)
    aligned = all(
        len({len(features[m][i]) for m in modalities}) == 1 for i in range(len(ids))
    )
    labelled = {(r["fold"], r["id"]) for r in rows}
    unlabelled = sum(
        1 for (fold, _), per_segment in files.items() for seg in per_segment if (fold, seg) not in labelled
    )
    segments = SegmentSet(
        ids=ids, features=features, labels=labels, aligned=aligned,
        info={"label_names": list(label_names), "classes": list(classes), "fold": [r["fold"] for r in kept_rows]},
    )
    summary = {
        "segments": len(segments),
        "dropped": dropped,
        "dropped_examples": examples,
        "imputed": imputed,
        "imputed_examples": imputed_examples,
        "splits": counts,
        "aligned": aligned,
        "modality_map": {k: v for k, v in mapping.items()},
        "ignored_folders": ignored,
        "unlabelled_files": unlabelled,
        "renamed_duplicate_ids": renamed,
        "missing_policy": policy,
    }
    log.info(
        "%s: %d segments (train/valid/test %s), dropped %s, imputed %s",
        root, len(segments), "/".join(str(counts[f]) for f in FOLDS), dropped or 0, imputed or 0,
    )
    return segments, summary
