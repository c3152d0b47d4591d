"""Audio featurization: decoding to 16 kHz mono, the log-mel default, hub waveform encoders, openSMILE."""

from __future__ import annotations

import numpy as np
import pytest

import media_support as ms
from mmer_tf.errors import MmerError
from mmer_tf.features import Clip, Recipe, featurize_clip
from mmer_tf.features.audio import MELS, encode_audio, logmel, mel_matrix
from mmer_tf.features.media import SAMPLE_RATE, MediaError, load_audio

pytestmark = pytest.mark.skipif(not ms.have_espeak(), reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio_media")
    wav = ms.speech("The quick brown fox", root / "speech.wav", pitch=60)
    mp4 = ms.video(root / "speech.mp4", 1.2, audio_wav=wav)
    return {"wav": wav, "mp4": mp4, "root": root}


@pytest.fixture(scope="module")
def hub_models(tmp_path_factory):
    from hub_support import build_all

    return build_all(tmp_path_factory.mktemp("hub_audio"), ("yamnet", "trillsson"))


def test_decoding_resamples_to_16k_mono(media):
    import soundfile

    info = soundfile.info(str(media["wav"]))
    wave = load_audio(media["wav"])
    assert info.samplerate == 22050 and wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) / SAMPLE_RATE - info.duration) < 0.01
    # The same speech through AAC in an MP4 (PyAV path): same rate, same length within codec padding.
    wave_mp4 = load_audio(media["mp4"])
    assert abs(len(wave_mp4) - len(wave)) / SAMPLE_RATE < 0.06
    assert np.abs(wave).max() <= 1.0 and np.abs(wave).max() > 0.05


@pytest.mark.parametrize("n", [400, 12345, 16000, 300])
def test_logmel_golden_shape_and_intervals(n):
    wave = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    intervals, features = logmel(wave)
    frames = 1 + (max(n, 400) - 400) // 160
    assert features.shape == (frames, MELS) and features.dtype == np.float32
    np.testing.assert_allclose(intervals[:, 0], np.arange(frames) * 0.01, atol=1e-9)
    np.testing.assert_allclose(intervals[:, 1] - intervals[:, 0], 0.025, atol=1e-9)


def test_logmel_equals_tf_signal():
    """The oracle is TensorFlow's own recipe: stft (periodic Hann) -> power -> mel matrix -> log(x + 1e-6)."""
    import tensorflow as tf

    expected_matrix = tf.signal.linear_to_mel_weight_matrix(64, 257, 16000, 125.0, 7500.0).numpy()
    np.testing.assert_allclose(mel_matrix(), expected_matrix, atol=2e-5)
    wave = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    stft = tf.signal.stft(wave, 400, 160, fft_length=512, window_fn=tf.signal.hann_window)
    expected = tf.math.log(tf.matmul(tf.square(tf.abs(stft)), expected_matrix) + 1e-6).numpy()
    _, features = logmel(wave)
    assert features.shape == expected.shape
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)


def test_logmel_sees_pitch():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    low = logmel(np.sin(2 * np.pi * 300 * t).astype(np.float32))[1].mean(0).argmax()
    high = logmel(np.sin(2 * np.pi * 2000 * t).astype(np.float32))[1].mean(0).argmax()
    assert high > low + 10


def test_clip_audio_intervals_within_duration(media):
    out = featurize_clip(Clip("s", media["mp4"]), Recipe(text="none", video="none"))
    intervals, features = out["audio"]
    duration = len(load_audio(media["mp4"])) / SAMPLE_RATE
    assert set(out) == {"audio"} and features.shape[1] == 64
    assert intervals.min() >= 0 and intervals.max() <= duration + 1e-9
    assert np.all(np.diff(intervals[:, 0]) > 0)


def test_hub_yamnet_like_embeddings_and_hop(media, hub_models):
    wave = load_audio(media["wav"])
    recipe = Recipe(audio=f"hub:{hub_models['yamnet']}", text="none", video="none")
    intervals, features = encode_audio(wave, recipe)
    frames = int(np.ceil(len(wave) / 7680))  # the tiny model's 0.48 s hop, padded at the end
    assert features.shape == (frames, 8)  # index 1 of (scores, embeddings, spectrogram)
    np.testing.assert_allclose(intervals[:, 0], np.minimum(np.arange(frames) * 0.48, len(wave) / SAMPLE_RATE))
    assert intervals.max() <= len(wave) / SAMPLE_RATE
    scores = encode_audio(wave, Recipe(audio=recipe.audio, hub_output_key="0", text="none", video="none"))[1]
    assert scores.shape == (frames, 5) and np.all((scores > 0) & (scores < 1))
    with pytest.raises(MmerError, match="output key '7'"):
        encode_audio(wave, Recipe(audio=recipe.audio, hub_output_key="7"))


def test_hub_trillsson_like_batch_input_dict_output(media, hub_models):
    wave = load_audio(media["wav"])
    intervals, features = encode_audio(wave, Recipe(audio=f"hub:{hub_models['trillsson']}"))
    assert features.shape == (1, 6)
    np.testing.assert_allclose(intervals, [[0.0, len(wave) / SAMPLE_RATE]])


def test_hub_handle_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    wav = ms.tone(0.5, tmp_path / "x.wav")
    handle = Recipe.parse(audio="hub:https://tfhub.dev/google/yamnet/1", text="none", video="none")
    with pytest.raises(MmerError, match="not downloaded on this machine.*runs never download"):
        featurize_clip(Clip("x", wav), handle)
    with pytest.raises(MmerError, match="not a SavedModel folder"):
        featurize_clip(Clip("x", wav), Recipe(audio=f"hub:{tmp_path}", text="none", video="none"))
    with pytest.raises(MmerError, match="--audio wav2vec"):
        Recipe.parse(audio="wav2vec")


@pytest.mark.parametrize("spec,dim,rows", [("opensmile:eGeMAPSv02", 25, None),
                                           ("opensmile:eGeMAPSv02:functionals", 88, 1)])
def test_opensmile_sets_and_intervals(media, spec, dim, rows):
    wave = load_audio(media["wav"])
    intervals, features = encode_audio(wave, Recipe(audio=spec))
    assert features.shape[1] == dim and np.isfinite(features).all()
    duration = len(wave) / SAMPLE_RATE
    if rows == 1:
        np.testing.assert_allclose(intervals, [[0.0, duration]], atol=0.011)
    else:  # LLDs: openSMILE's own 10 ms frame starts
        assert features.shape[0] > 0.9 * duration / 0.01
        np.testing.assert_allclose(np.diff(intervals[:, 0]), 0.01, atol=1e-6)
    assert intervals.max() <= duration + 1e-9


def test_undecodable_audio_is_a_media_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(MediaError, match="unreadable audio"):
        load_audio(bad)
    with pytest.raises(MmerError, match="bad.wav"):
        featurize_clip(Clip("b", bad), Recipe())
