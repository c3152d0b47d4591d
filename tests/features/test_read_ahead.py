"""The featurizer's decode-ahead thread: same items in the same order, the producer's errors raised in the
consumer, and an early stop that closes the producer (its container) and leaves no thread behind."""

from __future__ import annotations

import threading
import time

import pytest

from mmer_tf.features.read_ahead import Background, read_ahead


def _threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name in ("read_ahead", "background"))


@pytest.mark.parametrize("depth", [1, 2, 4, 100])
def test_read_ahead_yields_every_item_in_order(depth):
    assert list(read_ahead(iter(range(257)), depth=depth)) == list(range(257))
    assert list(read_ahead(iter([]), depth=depth)) == []
    assert _threads() == 0


def test_the_producer_runs_ahead_while_the_consumer_works():
    produced: list[int] = []

    def items():
        for i in range(6):
            produced.append(i)
            yield i

    stream = read_ahead(items(), depth=4)
    assert next(stream) == 0
    deadline = time.monotonic() + 5
    while len(produced) < 5 and time.monotonic() < deadline:  # 1 taken + 4 buffered
        time.sleep(0.01)
    assert len(produced) == 5
    assert list(stream) == [1, 2, 3, 4, 5]


def test_a_producer_error_is_raised_in_the_consumer_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise ValueError("damaged frame")

    got = []
    with pytest.raises(ValueError, match="damaged frame"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1, 2]
    assert _threads() == 0


def test_stopping_early_closes_the_producer_and_joins_its_thread():
    closed = threading.Event()

    def items():
        try:
            for i in range(10_000):
                yield i
        finally:
            closed.set()  # where iter_frames closes its container

    stream = read_ahead(items(), depth=2)
    for item in stream:
        if item == 3:
            break
    stream.close()
    assert closed.is_set()
    assert _threads() == 0


def test_background_returns_the_value_or_raises_the_error():
    assert Background(lambda: 41 + 1).result() == 42

    def fail():
        raise OSError("unreadable")

    job = Background(fail)
    job.wait()  # never raises
    with pytest.raises(OSError, match="unreadable"):
        job.result()
    assert _threads() == 0


def test_a_failing_crop_stops_the_video_decoder_before_the_error_leaves_encode_video(tmp_path, monkeypatch):
    """When the per-frame work fails, encode_video's decoding thread is stopped and joined (its file closed)
    by the time the caller holds the exception."""
    import media_support as ms

    from mmer_tf.features import Recipe
    from mmer_tf.features import video as vid

    clip = ms.video(tmp_path / "c.mp4", 2.0, fps=10, size=(160, 120))
    calls = []

    def failing_crop(frame, face_crop, tracker=None):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("encoder broke")
        return frame, "centre"

    monkeypatch.setattr(vid, "crop", failing_crop)
    with pytest.raises(RuntimeError, match="encoder broke") as caught:
        vid.encode_video(clip, Recipe(fps=5.0), duration=2.0)
    assert caught.value is not None and len(calls) == 3
    assert _threads() == 0
