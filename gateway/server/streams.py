"""ThreadStream: a pooled handler's iterator body, pulled on a pool thread (a generator may
block; the loop must not) and pushed to the loop a chunk at a time. At most WINDOW chunks
are in flight: when the client stops reading, the stream parks and gives its thread back
to the pool; the connection taking chunks again resumes it on a pool thread."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator

from gateway.response import PushBody

log = logging.getLogger("gateway.server")

WINDOW = 8  # chunks pushed but not yet taken by the connection


class ThreadStream(PushBody):
    __slots__ = (
        "_call_soon",
        "_cancelled",
        "_in_flight",
        "_iterator",
        "_lock",
        "_parked",
        "_resume",
    )

    def __init__(
        self,
        iterator: Iterator[bytes],
        call_soon: Callable[[Callable[[], None]], None],
        resume: Callable[[ThreadStream], None] | None = None,
    ):
        super().__init__()
        self._iterator = iterator
        self._call_soon = call_soon
        self._resume = resume  # on the loop: pump this again on a pool thread
        self._lock = threading.Lock()
        self._in_flight = 0
        self._parked = False
        self._cancelled = False

    def pump(self) -> None:
        """On a pool thread: pull items and hand them to the loop until the iterator
        ends, the client leaves, or WINDOW chunks wait (then park: take() resumes)."""
        try:
            while True:
                with self._lock:
                    if self._cancelled:
                        break
                    if self._in_flight >= WINDOW:
                        self._parked = True
                        return  # the iterator stays open: it goes on when resumed
                    self._in_flight += 1
                try:
                    item = next(self._iterator)
                except StopIteration:
                    self._call_soon(self.end)
                    break
                self._call_soon(functools.partial(self.push, _as_bytes(item)))
        except Exception:
            log.exception("streamed response body failed; closing the connection")
            self._call_soon(self.fail)
        self._close_iterator()

    def _close_iterator(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()

    def take(self) -> bytes | None:
        taken = len(self._chunks)
        data = super().take()
        if taken:
            with self._lock:
                self._in_flight -= taken
                resume = self._parked
                self._parked = False
            if resume:
                self._wake_pump()
        return data

    def _wake_pump(self) -> None:
        if self._resume is not None:
            self._resume(self)
        else:  # no pool to resume on (tests): pull on, here
            self.pump()

    def close(self) -> None:
        with self._lock:
            self._cancelled = True  # the client left: stop pulling
            parked = self._parked
            self._parked = False
        if parked:
            self._wake_pump()  # the pump sees _cancelled and closes the iterator
        super().close()


def _as_bytes(item: object) -> bytes:
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    raise TypeError(f"a streamed body yielded {type(item).__name__!r}: yield bytes or str")
