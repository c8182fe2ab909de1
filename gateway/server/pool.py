"""HandlerPool: a fixed set of threads running handler calls off the loop. At most
`threads + queue_size` calls are in flight; past that the caller is refused at once (it
answers 503) instead of queueing without bound. Results go back to the loop thread
through Loop.call_soon_threadsafe; the in-flight count is kept on the loop thread only."""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from gateway.response import FileBody, PushBody
from gateway.server.loop import Loop
from gateway.server.streams import ThreadStream

log = logging.getLogger("gateway.server")

Job = tuple[Callable[[], Any], Callable[[Any], None]]
Callback = Callable[[], None]


class HandlerPool:
    """Threads for handler calls; `submit` refuses (for a 503) once full."""

    def __init__(self, loop: Loop, threads: int, queue_size: int) -> None:
        self._loop = loop
        self._size = max(1, threads)
        self._limit = self._size + max(0, queue_size)
        # SimpleQueue is C code with no Condition: a put and a get cost a fraction of
        # queue.Queue's. Bounding is done by `pending`, which only the loop thread changes.
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self.pending = 0  # submitted and not yet finished (running or waiting)

    @property
    def size(self) -> int:
        """Threads the pool runs (once started)."""
        return self._size

    @property
    def waiting(self) -> int:
        """Calls queued for a thread (not yet running)."""
        return max(0, self.pending - self._size)

    def submit(self, work: Callable[[], Any], done: Callable[[Any], None]) -> bool:
        """Queue `work` for a thread; `done(result)` runs later on the loop thread.
        False when `threads + queue_size` calls are already in flight: answer 503."""
        if self.pending >= self._limit:
            return False
        if not self._threads:
            self._start()  # on first use, so an app without handlers costs no threads
        self.pending += 1
        self._jobs.put((work, done))
        return True

    def _start(self) -> None:
        for i in range(self._size):
            thread = threading.Thread(target=self._work, name=f"gateway-handler-{i}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        call_soon = self._loop.call_soon_threadsafe
        while True:
            job = self._jobs.get()
            if job is None:
                return
            work, done = job
            try:
                result = work()
            except BaseException:  # work() turns handler errors into responses itself
                log.exception("handler pool job failed")
                result = None
            self._hand_back(result, done, call_soon)

    def _hand_back(
        self, result: Any, done: Callable[[Any], None], call_soon: Callable[[Callback], None]
    ) -> None:
        """Give `result` to the loop and free the slot: in one callback for a whole
        response (the common case), in two around the pumping of a streamed one."""
        stream = None
        try:
            stream = _thread_stream(result, call_soon)
        except BaseException:
            log.exception("handler pool job failed after the handler returned")
        if stream is None:
            call_soon(functools.partial(self._finish, done, result))
            return
        call_soon(functools.partial(done, result))
        try:
            stream.pump()  # this thread stays with the stream until it ends
        except BaseException:
            log.exception("streaming a response failed")
        finally:
            call_soon(self._job_done)  # the slot is free whatever happened

    def _finish(self, done: Callable[[Any], None], result: Any) -> None:
        self.pending -= 1
        done(result)

    def _job_done(self) -> None:
        self.pending -= 1

    def shutdown(self) -> None:
        """Ask every thread to stop after its current job; does not wait for them."""
        for _ in self._threads:
            self._jobs.put(None)


def _thread_stream(result: Any, call_soon: Callable[[Callable[[], None]], None]) -> Any:
    """Swap an iterator body for a ThreadStream this thread will pump; None otherwise."""
    body = getattr(result, "body", None)
    if body is None or isinstance(body, (bytes, FileBody, PushBody)):
        return None
    stream = ThreadStream(iter(body), call_soon)
    result.body = stream
    return stream
