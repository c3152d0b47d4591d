"""Run a producer (a generator or a function) in a background thread so its work overlaps the caller's.

Why: featurizing a clip is decoding (PyAV, which releases the GIL while FFmpeg decodes) followed by per-frame
work (OpenCV's cascades, resizes and HOG, which release it too). Run one after the other, a core sits idle
during each; with the decoder a few frames ahead in a thread, the default recipe's 720p featurizing took
~10 % less wall time on 2 cores (benchmarks/README.md). The same holds for the audio track, decoded while
the video is.

Errors raised by the producer are raised again in the caller, where the producer would have raised them; a
consumer that stops early (``break``, an exception) stops the producer and waits for it, so no thread
outlives the clip and no file stays open.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_S = 0.05  # how often a producer blocked on a full queue looks whether the consumer went away


def read_ahead(items: Iterator[T], depth: int = 4) -> Iterator[T]:
    """Yield what ``items`` yields, in order, produced up to ``depth`` items ahead by a background thread."""
    if depth < 1:
        raise ValueError(f"depth={depth}: must be at least 1")
    buffer: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    break
        except BaseException as exc:  # handed to the consumer, which raises it in its own thread
            failure.append(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # runs the generator's cleanup (closing its container) in the thread that ran it
            put(_DONE)

    worker = threading.Thread(target=produce, name="read_ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                break
            yield item
    finally:
        stop.set()
        worker.join()
    if failure:
        raise failure[0]


class Background(Generic[T]):
    """``function()`` started in a background thread; :meth:`result` waits for it and returns its value (or
    raises its exception). A small future without an executor: one thread per call, joined by ``result``."""

    def __init__(self, function: Callable[[], T]):
        self._value: T | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(function,), name="background", daemon=True)
        self._thread.start()

    def _run(self, function: Callable[[], T]) -> None:
        try:
            self._value = function()
        except BaseException as exc:  # raised again by result(), in the caller's thread
            self._failure = exc

    def wait(self) -> None:
        """Wait for the function to end, whatever it returns or raises (used when the caller is failing already)."""
        self._thread.join()

    def result(self) -> T:
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        return self._value  # type: ignore[return-value]
