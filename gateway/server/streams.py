"""ThreadStream: a pooled handler's iterator body, pulled on the pool thread that ran the
handler (a generator may block; the loop must not), and pushed to the loop a chunk at a
time. A small window of chunks in flight is the backpressure: a slow client stops the
producer instead of letting it buffer without bound."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator

from gateway.response import PushBody

log = logging.getLogger("gateway.server")

WINDOW = 8  # chunks pushed but not yet taken by the connection


class ThreadStream(PushBody):
    __slots__ = ("_call_soon", "_cancelled", "_iterator", "_room")

    def __init__(self, iterator: Iterator[bytes], call_soon: Callable[[Callable[[], None]], None]):
        super().__init__()
        self._iterator = iterator
        self._call_soon = call_soon
        self._room = threading.Semaphore(WINDOW)
        self._cancelled = False

    def pump(self) -> None:
        """On the pool thread: pull every item and hand it to the loop."""
        try:
            for item in self._iterator:
                data = _as_bytes(item)
                if not self._wait_for_room():
                    return
                self._call_soon(functools.partial(self.push, data))
        except Exception:
            log.exception("streamed response body failed; closing the connection")
            self._call_soon(self.fail)
        else:
            self._call_soon(self.end)
        finally:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()

    def _wait_for_room(self) -> bool:
        while not self._room.acquire(timeout=1.0):
            if self._cancelled:
                return False
        return not self._cancelled

    def take(self) -> bytes | None:
        taken = len(self._chunks)
        data = super().take()
        if taken:
            self._room.release(taken)
        return data

    def close(self) -> None:
        self._cancelled = True  # the client left: stop pulling (the pump checks each second)
        self._room.release(WINDOW)
        super().close()


def _as_bytes(item: object) -> bytes:
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    raise TypeError(f"a streamed body yielded {type(item).__name__!r}: yield bytes or str")
