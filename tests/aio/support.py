"""A stand-in for the server Loop: callbacks handed over with call_soon_threadsafe are queued
and run by the test's thread when it polls, to a deadline (never a fixed sleep)."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable


class FakeServerLoop:
    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()

    def call_soon_threadsafe(self, callback: Callable[[], None]) -> None:
        self._queue.put(callback)

    def run_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("condition not reached before the deadline")
            try:
                callback = self._queue.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            callback()

    def run_pending(self) -> None:
        while True:
            try:
                callback = self._queue.get_nowait()
            except queue.Empty:
                return
            callback()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.002)
