"""Import the CMU Multimodal SDK's ``mmdatasdk`` for equivalence tests and the alignment benchmark.

The SDK is not a dependency of mmer_tf: tests that compare against it are skipped (with the reason
printed by ``pytest -rs``) when it cannot be imported. Point ``$MMER_SDK_PATH`` at a directory that
contains the ``mmsdk`` package (e.g. ``git -C <sdk mirror> archive HEAD mmsdk | tar -x -C /tmp/sdk``),
or install it normally. Its ``mmdatasdk`` needs ``validators`` and ``colorama`` (not torch).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

import numpy as np


def load_mmdatasdk(path: str | os.PathLike | None = None):
    """Return ``(module, None)`` or ``(None, reason)``; ``path`` overrides ``$MMER_SDK_PATH``."""
    root = path or os.environ.get("MMER_SDK_PATH")
    if root:
        root = str(Path(root).resolve())
        if not (Path(root) / "mmsdk").is_dir():
            return None, f"MMER_SDK_PATH={root} has no mmsdk package"
        if root not in sys.path:
            sys.path.insert(0, root)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mmsdk import mmdatasdk  # noqa: WPS433 (optional import)
    except Exception as exc:  # ImportError, or a missing dependency of the SDK
        where = f" from {root}" if root else " (set MMER_SDK_PATH to a directory holding mmsdk/)"
        return None, f"CMU Multimodal SDK not importable{where}: {type(exc).__name__}: {exc}"
    return mmdatasdk, None


@contextlib.contextmanager
def quiet():
    """Silence the SDK's status lines and tqdm bars. Its ``log`` functions bind ``sys.stdout`` as a
    default argument at import, so redirecting ``sys.stdout`` is not enough: file descriptors 1 and 2
    are pointed at ``/dev/null`` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved + [devnull]:
            os.close(fd)


def sdk_dataset(mmdatasdk, files: dict[str, str | os.PathLike]):
    """An ``mmdataset`` built from ``{sequence name: .csd path}`` (not from a folder: under h5py 3
    the SDK would name the sequences ``"b'...'"`` from undecoded metadata)."""
    with quiet():
        return mmdatasdk.mmdataset({name: str(path) for name, path in files.items()})


def sdk_contents(dataset, name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{key: (intervals, features)}`` of one sequence of an SDK dataset, as NumPy arrays."""
    data = dataset[name].data
    return {key: (np.asarray(entry["intervals"]), np.asarray(entry["features"])) for key, entry in data.items()}


def sdk_words_then_labels(mmdatasdk, files: dict[str, str | os.PathLike], words="glove_vectors", labels="All Labels"):
    """The SDK's CMU-MOSEI recipe: align to the words with a mean collapse, impute the words, add the
    labels, align to them, drop incomplete segments. Returns the SDK dataset."""
    dataset = sdk_dataset(mmdatasdk, {k: v for k, v in files.items() if k != labels})
    with quiet():
        dataset.align(words, collapse_functions=[sdk_mean])
        dataset.impute(words)
        dataset.add_computational_sequences({labels: str(files[labels])}, None)
        dataset.align(labels)
        dataset.hard_unify()
    return dataset


def sdk_mean(intervals, features):
    """The SDK examples' collapse function (``process_mosei.py``'s ``myavg``)."""
    return np.average(features, axis=0)


def defective_dataset(seed: int = 0, n_videos: int = 5) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """A small CMU-MOSEI-shaped dataset ``{sequence: {video: {"intervals", "features"}}}`` carrying the
    real files' defects: zero-length words, words in shuffled order, NaN rows and ``-inf`` values in
    COVAREP, one video missing from COVAREP, FACET frames missing (gaps longer than a word, so some
    words must be imputed) and stored unsorted, zero-length and out-of-range label segments, and a
    labelled video with no features at all."""
    rng = np.random.default_rng(seed)
    words, audio, vision, labels = {}, {}, {}, {}
    for v in range(n_videos):
        vid = f"v{v:02d}x"
        duration = rng.uniform(8, 14)
        rows, t = [], 0.3
        while t < duration - 0.5:
            length = 0.0 if rng.random() < 0.1 else rng.uniform(0.1, 0.6)
            rows.append([t, t + length])
            t += length + rng.uniform(0, 0.2)
        word_iv = np.array(rows)[rng.permutation(len(rows))]
        words[vid] = {"intervals": word_iv, "features": rng.normal(size=(len(word_iv), 6)).astype(np.float32)}
        n = int(duration * 100)
        starts = np.arange(n) / 100.0
        feats = rng.normal(size=(n, 4)).astype(np.float32)
        feats[rng.random(n) < 0.02] = np.nan
        feats[rng.random(n) < 0.01, 1] = -np.inf
        if v != 2:
            audio[vid] = {"intervals": np.stack([starts, starts + 0.01], 1), "features": feats}
        n = int(duration * 30)
        starts = np.arange(n) / 30.0
        keep = (rng.random(n) > 0.1) & ~((starts > 3.0) & (starts < 5.0))
        order = rng.permutation(int(keep.sum()))
        vision[vid] = {
            "intervals": np.stack([starts, starts + 1 / 30], 1)[keep][order],
            "features": rng.normal(size=(int(keep.sum()), 3)).astype(np.float32)[order],
        }
        cuts = np.sort(rng.uniform(0, duration, 5))
        segments = np.concatenate([np.stack([cuts[:-1], cuts[1:]], 1), [[cuts[1], cuts[1]]],
                                   [[duration + 5, duration + 6]]])
        labels[vid] = {"intervals": segments, "features": rng.normal(size=(len(segments), 7)).astype(np.float32)}
    labels["only_labels"] = {"intervals": np.array([[0.0, 1.0]]), "features": np.zeros((1, 7), np.float32)}
    return {"glove_vectors": words, "COVAREP": audio, "FACET 4.2": vision, "All Labels": labels}
