"""Audio encoders: 16 kHz mono waveform -> ``(intervals [T, 2] s, features [T, D] float32)``.

Which one runs is the recipe kind's choice (``features/kinds/``, one module per kind); the
implementations of the built-in waveform kinds live here.

- ``logmel`` (offline default): ``tf.signal``'s log-mel recipe: ``stft`` with a periodic 25 ms Hann
  window, 10 ms hop, 512-point FFT, power, ``linear_to_mel_weight_matrix`` (64 HTK mel bands over
  125-7500 Hz, YAMNet's front end), log of the power plus 1e-6. Frame ``i`` spans
  ``[i*0.01, i*0.01 + 0.025]`` s; a waveform of ``n >= 400`` samples gives ``1 + (n - 400) // 160``
  frames (shorter ones are zero-padded to one frame). Prosody (pitch, energy, rate), which carries
  most vocal emotion, is visible in it and it needs no download. It is computed in NumPy, equal to the
  ``tf.signal`` ops to float32 rounding (tested against them): importing TensorFlow costs each worker
  process ~5-20 s and ~750 MiB (measured, benchmarks/README.md), which made two workers slower than
  one on a whole corpus; the default recipe now starts a worker in about a second.
- ``hub:<path>``: a waveform encoder (YAMNet, VGGish, TRILLsson); row ``i`` spans
  ``[i*hop, (i+1)*hop]`` s with the recipe's ``hub_frame_hop``, clipped to the clip.
- ``opensmile:<set>[:lld|:functionals]``: openSMILE's LLDs (rows with its own start/end times) or
  functionals (one row spanning the clip).
- ``kh:<preset>``: a KerasHub Whisper encoder over its audio converter's log-mel frames, one row per
  encoder frame at its real hop (``features/kh.py``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mmer_tf.features import hub
from mmer_tf.features.media import SAMPLE_RATE
from mmer_tf.features.recipe import Recipe, hub_paths

WINDOW = 400  # 25 ms at 16 kHz
HOP = 160  # 10 ms
FFT = 512
MELS = 64
LOWER_HZ, UPPER_HZ = 125.0, 7500.0


def _hz_to_mel(hz):
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


@lru_cache(maxsize=1)
def mel_matrix() -> np.ndarray:
    """``[FFT//2 + 1, MELS]`` triangular HTK-mel weights, as ``tf.signal.linear_to_mel_weight_matrix``."""
    bins = FFT // 2 + 1
    linear_mel = _hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, bins)[1:])[:, np.newaxis]
    edges = np.linspace(_hz_to_mel(LOWER_HZ), _hz_to_mel(UPPER_HZ), MELS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0.0, np.minimum((linear_mel - lower) / (centre - lower),
                                         (upper - linear_mel) / (upper - centre)))
    return np.concatenate([np.zeros((1, MELS)), weights]).astype(np.float32)  # the DC bin carries no mel


@lru_cache(maxsize=1)
def _mel_bands():
    """:func:`mel_matrix` transposed, as a sparse ``[MELS, FFT//2 + 1]`` matrix (each band is a short triangle).

    Why sparse: a dense ``power @ mel_matrix()`` goes to OpenBLAS, which runs it on every core and then keeps
    its threads spinning for a while; in the featurizer those spinning threads took the second core from the
    video decoder's and the face detector's threads, and the video that followed the log-mel ran ~40 % slower
    (benchmarks/README.md). SciPy's sparse product runs in the calling thread and does 1/30th of the work.
    """
    from scipy import sparse

    return sparse.csr_matrix(mel_matrix().T)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)).astype(np.float32)  # periodic Hann


def logmel(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    wave = np.asarray(wave, dtype=np.float32)
    if len(wave) < WINDOW:
        wave = np.pad(wave, (0, WINDOW - len(wave)))
    count = 1 + (len(wave) - WINDOW) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(wave, WINDOW)[::HOP][:count] * _window()
    power = np.square(np.abs(np.fft.rfft(frames, FFT, axis=1))).astype(np.float32)
    features = np.log((_mel_bands() @ power.T).T + 1e-6).astype(np.float32)
    starts = np.arange(count, dtype=np.float64) * (HOP / SAMPLE_RATE)
    intervals = np.stack([starts, starts + WINDOW / SAMPLE_RATE], axis=1)
    return intervals, features


def hub_waveform(wave: np.ndarray, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    flag = "--audio"
    model = hub.load(hub_paths(recipe.audio, flag)[0], flag)
    spec = hub.input_spec(model)
    rank = spec.shape.rank if spec is not None and spec.shape.rank is not None else 1
    x = tf.constant(np.asarray(wave, dtype=np.float32))
    if rank == 2:  # TRILLsson-style [batch, samples]
        x = x[tf.newaxis]
    # YAMNet returns (scores, embeddings, spectrogram): the embeddings are index 1.
    out = hub.select_output(hub.call(model, x), recipe.hub_output_key, flag, tuple_default=1)
    if rank == 2 and out.ndim >= 2 and out.shape[0] == 1:
        out = out[0]
    if out.ndim == 1:
        out = out[np.newaxis]
    if out.ndim != 2:
        raise ValueError(f"audio encoder output has shape {out.shape}, expected [frames, dim]")
    if len(out) == 1:
        return np.array([[0.0, len(wave) / SAMPLE_RATE]]), out
    starts = np.arange(len(out), dtype=np.float64) * recipe.hub_frame_hop
    return np.stack([starts, starts + recipe.hub_frame_hop], axis=1), out


def encode_audio(wave: np.ndarray, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """Run the recipe's audio encoder (its kind, ``features/kinds/``); intervals are clipped to the waveform's
    duration."""
    from mmer_tf.features import kinds

    intervals, features = kinds.encoder("audio", recipe.audio)(wave, recipe)
    duration = max(len(wave) / SAMPLE_RATE, 1.0 / SAMPLE_RATE)
    return np.clip(intervals, 0.0, duration), np.ascontiguousarray(features, dtype=np.float32)
