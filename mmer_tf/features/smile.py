"""openSMILE features, run in-process or, once TensorFlow is loaded, in a helper process.

Why a helper: openSMILE's native library corrupts the heap (``malloc(): invalid size``, the process
aborts) when it is first loaded after TensorFlow (opensmile 2.6 with TensorFlow 2.21; loading it
before TensorFlow is fine). A featurizer that already ran a TF encoder, or ``predict`` inside a Keras
process, therefore sends the waveform to ``python -m mmer_tf.features.smile``, a long-lived child that
never imports TensorFlow, over its stdin/stdout (one JSON header line, then raw arrays).
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


@lru_cache(maxsize=4)
def _smile(feature_set: str, level: str):
    import opensmile

    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, feature_set),
        feature_level=(opensmile.FeatureLevel.Functionals if level == "functionals"
                       else opensmile.FeatureLevel.LowLevelDescriptors),
    )


def compute(wave: np.ndarray, feature_set: str, level: str) -> tuple[np.ndarray, np.ndarray]:
    """In this process: ``(intervals from openSMILE's start/end, features)``."""
    frame = _smile(feature_set, level).process_signal(np.asarray(wave, dtype=np.float32), SAMPLE_RATE)
    starts = frame.index.get_level_values("start").total_seconds().to_numpy(dtype=np.float64)
    ends = frame.index.get_level_values("end").total_seconds().to_numpy(dtype=np.float64)
    features = np.nan_to_num(frame.to_numpy(dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return np.stack([starts, ends], axis=1), np.ascontiguousarray(features)


class _Helper:
    def __init__(self):
        root = str(Path(__file__).resolve().parents[2])  # the folder holding the mmer_tf package
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
        self.proc = subprocess.Popen([sys.executable, "-m", "mmer_tf.features.smile"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        self.lock = threading.Lock()
        atexit.register(self.close)

    def run(self, wave: np.ndarray, feature_set: str, level: str) -> tuple[np.ndarray, np.ndarray]:
        wave = np.ascontiguousarray(wave, dtype=np.float32)
        header = {"set": feature_set, "level": level, "n": int(len(wave))}
        with self.lock:
            self.proc.stdin.write((json.dumps(header) + "\n").encode() + wave.tobytes())
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the openSMILE helper process died")
            reply = json.loads(line)
            if "error" in reply:
                raise RuntimeError(f"openSMILE: {reply['error']}")
            rows, dim = reply["rows"], reply["dim"]
            intervals = np.frombuffer(_read(self.proc.stdout, rows * 2 * 8), dtype=np.float64).reshape(rows, 2)
            features = np.frombuffer(_read(self.proc.stdout, rows * dim * 4), dtype=np.float32).reshape(rows, dim)
        return intervals.copy(), features.copy()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _read(stream, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise RuntimeError("the openSMILE helper process closed its output")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


_helper: _Helper | None = None


def opensmile_features(wave: np.ndarray, feature_set: str, level: str) -> tuple[np.ndarray, np.ndarray]:
    """openSMILE on a 16 kHz waveform, isolated from TensorFlow when TensorFlow is already loaded."""
    global _helper
    if "tensorflow" not in sys.modules or "opensmile" in sys.modules:
        return compute(wave, feature_set, level)
    if _helper is None or _helper.proc.poll() is not None:
        _helper = _Helper()
    return _helper.run(wave, feature_set, level)


def _serve() -> None:
    # Native code that prints must not corrupt the reply stream: fd 1 goes to stderr, replies to a copy.
    stdin, stdout = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    while True:
        line = stdin.readline()
        if not line:
            return
        header = json.loads(line)
        wave = np.frombuffer(_read(stdin, header["n"] * 4), dtype=np.float32)
        try:
            intervals, features = compute(wave, header["set"], header["level"])
        except Exception as exc:  # reported to the caller, which skips the clip
            stdout.write((json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
            stdout.flush()
            continue
        stdout.write((json.dumps({"rows": int(features.shape[0]), "dim": int(features.shape[1])}) + "\n").encode())
        stdout.write(np.ascontiguousarray(intervals, dtype=np.float64).tobytes())
        stdout.write(np.ascontiguousarray(features, dtype=np.float32).tobytes())
        stdout.flush()


if __name__ == "__main__":
    _serve()
