"""Small corpora in the real on-disk layouts of MMSA, MultiBench and feature folders, with planted signal.

Used by the adapter tests, the end-to-end runs and ``benchmarks/bench_mmsa.py``. Each segment's real
steps carry ``signal * label * direction_m + noise`` (a fixed random direction per modality), so a model
that learns anything beats the trivial baseline; padding is all-zero steps on the layout's side.
"""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import numpy as np

SPLITS = ("train", "valid", "test")


def _block(rng, n, steps, dim, lengths, labels, direction, side, signal, dtype):
    block = np.zeros((n, steps, dim), dtype=dtype)
    for i in range(n):
        length = int(lengths[i])
        values = rng.normal(0.0, 1.0, (length, dim)) + signal * labels[i] * direction
        if side == "front":
            block[i, steps - length:] = values
        else:
            block[i, :length] = values
    return block


def mmsa_data(sizes=(90, 30, 30), dims=(12, 6, 5), steps=(10, 10, 10), aligned=True, side="end", seed=0,
              signal=0.6, dtype=np.float32, inf_in_audio=True) -> dict:
    """An MMSA-layout dict: ``data[split]`` with text/audio/vision, lengths (unaligned), labels, ids, extras."""
    rng = np.random.default_rng(seed)
    directions = [rng.normal(0.0, 1.0, d) / np.sqrt(d) * 2.0 for d in dims]
    data = {}
    counter = 0
    for split, n in zip(SPLITS, sizes):
        labels = np.round(rng.uniform(-3.0, 3.0, n), 1)
        labels[: max(1, n // 10)] = 0.0  # MOSI/MOSEI have exact zeros
        if aligned:
            shared = rng.integers(2, steps[0] + 1, n)
            lengths = [shared, shared, shared]
        else:
            lengths = [rng.integers(2, t + 1, n) for t in steps]
        blocks = [
            _block(rng, n, t, d, length, labels, direction, side, signal, dtype)
            for t, d, length, direction in zip(steps, dims, lengths, directions)
        ]
        if inf_in_audio:  # COVAREP's -inf, inside real steps
            for i in range(0, n, 3):
                row = steps[1] - 1 if side == "front" else 0
                blocks[1][i, row, 0] = -np.inf
        ids = np.array([f"vid{(counter + i) // 3}$_${(counter + i) % 3}" for i in range(n)], dtype=object)
        counter += n
        split_dict = {
            "raw_text": np.array([f"words of segment {i}" for i in range(n)], dtype=object),
            "audio": blocks[1],
            "vision": blocks[2],
            "id": ids,
            "text": blocks[0],
            "text_bert": rng.integers(0, 30000, (n, 3, steps[0])).astype(np.float32),
            "annotations": np.array(["Positive" if y > 0 else "Negative" for y in labels], dtype=object),
            "classification_labels": np.sign(labels).astype(np.float32) + 1,
            "regression_labels": labels.astype(np.float32),
        }
        if not aligned:
            split_dict["audio_lengths"] = [int(x) for x in lengths[1]]
            split_dict["vision_lengths"] = np.asarray(lengths[2], dtype=np.int64)
        data[split] = split_dict
    return data


def multibench_data(sizes=(90, 30, 30), dims=(12, 6, 5), steps=(10, 10, 10), aligned=True, seed=0, signal=0.6,
                    empty_text=0) -> dict:
    """A MultiBench-affect-layout dict (front padding, ``labels`` ``[N, 1, 1]``); ``empty_text`` all-zero-text
    segments are planted at the start of every split."""
    rng = np.random.default_rng(seed)
    directions = [rng.normal(0.0, 1.0, d) / np.sqrt(d) * 2.0 for d in dims]
    data = {}
    for split, n in zip(SPLITS, sizes):
        labels = np.round(rng.uniform(-3.0, 3.0, n), 1)
        if aligned:
            shared = rng.integers(2, steps[0] + 1, n)
            lengths = [shared, shared, shared]
        else:
            lengths = [rng.integers(2, t + 1, n) for t in steps]
        text, audio, vision = (
            _block(rng, n, t, d, length, labels, direction, "front", signal, np.float32)
            for t, d, length, direction in zip(steps, dims, lengths, directions)
        )
        text[:empty_text] = 0.0
        data[split] = {
            "vision": vision,
            "audio": audio,
            "text": text,
            "labels": labels.reshape(n, 1, 1).astype(np.float32),
            "id": np.array([[f"{split}vid{i}", str(i % 4)] for i in range(n)]),
        }
    return data


def write_pickle(path: Path, data, protocol: int = pickle.HIGHEST_PROTOCOL) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(data, handle, protocol=protocol)
    return path


def feature_folder(root: Path, sizes=(90, 30, 30), modalities=("speech", "text", "face"), dims=(6, 8, 5),
                   classes=("ang", "hap", "neu"), seed=0, signal=1.5, valid_name="val", vectors=("face",),
                   score: str | None = None) -> Path:
    """A seed-003 layout: ``root/<split>/<modality>/<id>.npy`` (``text`` as ``.npz``) and ``labels.csv``.

    Categorical (``id,split,label``) unless ``score`` names a numeric column (``id,split,<score>``).
    Modalities in ``vectors`` are stored as one ``[D]`` vector per segment.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    centres = {m: rng.normal(0.0, 1.0, (len(classes), d)) for m, d in zip(modalities, dims)}
    directions = {m: rng.normal(0.0, 1.0, d) for m, d in zip(modalities, dims)}
    rows = []
    for split, n in zip(("train", valid_name, "test"), sizes):
        for i in range(n):
            seg = f"{split}_{i:04d}"
            k = int(rng.integers(0, len(classes)))
            y = float(np.round(rng.uniform(-3, 3), 2))
            for m, d in zip(modalities, dims):
                folder = root / split / m
                folder.mkdir(parents=True, exist_ok=True)
                mean = signal * (y * directions[m] / 3 if score else centres[m][k])
                if m in vectors:
                    values = (mean + rng.normal(0.0, 1.0, d)).astype(np.float32)
                else:
                    values = (mean + rng.normal(0.0, 1.0, (int(rng.integers(2, 7)), d))).astype(np.float32)
                if m == "text":
                    np.savez(folder / f"{seg}.npz", embedding=values)
                else:
                    np.save(folder / f"{seg}.npy", values)
            rows.append((seg, split, y if score else classes[k]))
    with open(root / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "split", score or "label"])
        writer.writerows(rows)
    return root
