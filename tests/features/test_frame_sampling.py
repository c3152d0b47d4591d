"""Which frames ``iter_frames`` decodes for its samples: B-frames skipped when the stream's reference frames are
denser than the samples, and, whatever the probe of the first packets says, one frame inside every sample
interval, the same samples as decoding with only non-reference frames skipped where that is needed."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mmer_tf.features import media

RATE = Fraction(30000, 1001)  # RAVDESS's 29.97 fps


def numbered_clip(path, frames: int, x264: str = "") -> tuple:
    """A 160x96 H.264 clip of a still texture whose frame ``i`` carries a 32x32 square of grey ``16 + 2 i`` (a
    number decoding can read back; the rest is still, so the encoder uses the B-frames it is allowed); returns
    the path and each frame's square's mean luma as a full decode gives it."""
    import av

    texture = np.random.default_rng(0).integers(40, 200, (96, 160, 1), dtype=np.uint8).repeat(3, axis=2)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        if x264:
            stream.options = {"x264-params": x264}
        for i in range(frames):
            picture = texture.copy()
            picture[:32, :32] = 16 + 2 * i
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = i, 1 / RATE
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with av.open(str(path)) as container:
        means = [float(f.to_ndarray(format="gray")[4:28, 4:28].mean()) for f in container.decode(video=0)]
    return path, np.asarray(means)


def sampled(path, means, fps, **kwargs) -> list[tuple[int, int]]:
    """``(k, index of the frame it got)`` for every sample."""
    return [(k, int(np.argmin(np.abs(means - float(grey[4:28, 4:28].mean())))))
            for k, grey in media.iter_frames(path, fps, grey=True, **kwargs)]


def head_packets(path, n: int = media.PROBE_PACKETS):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = []
        for packet in container.demux(stream):
            packets.append(packet)
            if len(packets) == n:
                break
        return packets, float(stream.time_base)


@pytest.fixture
def opened(monkeypatch) -> list:
    """The paths ``iter_frames`` opens, in order."""
    paths = []
    real_open = media._open
    monkeypatch.setattr(media, "_open", lambda p: paths.append(p) or real_open(p))
    return paths


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("sampling")
    return {"default": numbered_clip(root / "default.mp4", 105),  # x264's defaults: a P every 2-4 frames
            "long_b": numbered_clip(root / "long_b.mp4", 105, "bframes=16:b-adapt=0:scenecut=0")}  # a P every 17


def test_the_probe_tells_dense_references_from_sparse(clips):
    packets, time_base = head_packets(clips["default"][0])
    assert media._refs_denser_than(packets, time_base, 1 / 5)  # 5 samples a second: B-frames may be skipped
    packets, time_base = head_packets(clips["long_b"][0])
    assert not media._refs_denser_than(packets, time_base, 1 / 5)  # 567 ms between P-frames
    assert media._refs_denser_than(packets, time_base, 1.0)
    assert not media._refs_denser_than(packets[:1], time_base, 1.0)  # one packet tells nothing
    assert not media._refs_denser_than(packets, 0.0, 1.0)  # nor packets without a time base


@pytest.mark.parametrize("name", ["default", "long_b"])
def test_every_sample_gets_a_frame_inside_its_interval(clips, name):
    path, means = clips[name]
    got = sampled(path, means, 5.0)
    assert [k for k, _ in got] == list(range(18))  # 105 frames: 3.50 s, samples at 0.0 .. 3.4 s
    for k, index in got:
        assert k / 5 <= index / float(RATE) < (k + 1) / 5, (k, index)


def test_a_wrong_probe_is_caught_and_every_sample_still_gets_its_frame(clips, monkeypatch, opened):
    """Told that a stream with 17 frames between P-frames may skip its B-frames, the sampler finds samples
    without a frame and decodes on from there with lighter skips: every sample still gets a frame inside its
    interval, for the whole clip and for a stretch of it, and the samples after the last miss are a full
    decode's (the first frame of each interval)."""
    path, means = clips["long_b"]
    monkeypatch.setattr(media, "_refs_denser_than", lambda *args: True)
    got = sampled(path, means, 5.0)
    assert len(opened) >= 2  # skipping B-frames missed a sample: opened again from there
    assert [k for k, _ in got] == list(range(18))
    for k, index in got:
        assert k / 5 <= index / float(RATE) < (k + 1) / 5, (k, index)
    first_of_interval = {k: int(np.ceil(k / 5 * float(RATE) - 1e-9)) for k in range(18)}
    assert got[-1][1] == first_of_interval[17]
    stretch = sampled(path, means, 5.0, start=1.1, end=3.0)
    assert [k for k, _ in stretch] == list(range(10))  # 1.1 .. 3.0 s: 1.9 s, samples at 0.0 .. 1.8 s
    for k, index in stretch:
        assert 1.1 + k / 5 <= index / float(RATE) < min(1.1 + (k + 1) / 5, 3.0), (k, index)


def test_dense_references_decode_the_whole_clip_once(clips, opened):
    path, means = clips["default"]
    assert len(sampled(path, means, 5.0)) == 18
    assert len(opened) == 1
