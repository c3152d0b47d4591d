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
