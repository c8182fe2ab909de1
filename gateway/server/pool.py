"""HandlerPool: a fixed set of threads running handler calls off the loop, with a bounded
queue. A full queue is refused at once (the caller answers 503) instead of growing without
bound; results go back to the loop thread through Loop.call_soon_threadsafe."""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from gateway.server.loop import Loop

log = logging.getLogger("gateway.server")

Job = tuple[Callable[[], Any], Callable[[Any], None]]


class HandlerPool:
    def __init__(self, loop: Loop, threads: int, queue_size: int) -> None:
        self._loop = loop
        self._size = threads
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max(1, queue_size))
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], Any], done: Callable[[Any], None]) -> bool:
        """Queue `work` for a thread; `done(result)` runs later on the loop thread.
        False when the queue is full: the caller should answer 503."""
        self._grow_if_needed()
        try:
            self._queue.put_nowait((work, done))
        except queue.Full:
            return False
        return True

    def _grow_if_needed(self) -> None:
        # Threads start on demand so an app without handlers costs no threads.
        with self._lock:
            if self._idle == 0 and len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"gateway-handler-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                self._idle += 1
                thread.start()

    def _work(self) -> None:
        call_soon = self._loop.call_soon_threadsafe
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                self._idle -= 1
            work, done = job
            try:
                result = work()
            except BaseException:  # work() turns handler errors into responses itself
                log.exception("handler pool job failed")
                result = None
            call_soon(functools.partial(done, result))
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        """Ask every thread to stop after its current job; does not wait for them."""
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
