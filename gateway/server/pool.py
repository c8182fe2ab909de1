"""HandlerPool: a fixed set of threads running handler calls off the loop. At most
`threads + queue_size` calls are in flight; past that the caller is refused at once (it
answers 503). A call whose answer is no longer wanted (504 sent, client gone) frees its slot
(cancel): a queued one never runs. A streamed body parks off its thread while its client is
not reading (streams.ThreadStream). Results go back through Loop.call_soon_threadsafe."""

from __future__ import annotations

import functools
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from gateway.response import FileBody, PushBody
from gateway.server.loop import Loop
from gateway.server.streams import ThreadStream

log = logging.getLogger("gateway.server")

Job = tuple[int, Callable[[], Any], Callable[[Any], None]]
Callback = Callable[[], None]


class HandlerPool:
    """Threads for handler calls; `submit` refuses (for a 503) once full.

    Each call has a key in two dicts, `_queued` and `_live`; a pop from one is a claim
    that one side wins (dict.pop of an int key is atomic under the GIL): a thread pops
    `_queued` to start the call and `_live` to finish it, `cancel` pops `_queued` to drop
    a call before it starts, else `_live` to free the slot of one that is running (its
    thread retires when the call returns, a spare has taken its place). No lock, no
    object per call: the hot path pays four dict operations."""

    def __init__(self, loop: Loop, threads: int, queue_size: int) -> None:
        self._loop = loop
        self._size = max(1, threads)
        self._limit = self._size + max(0, queue_size)
        # SimpleQueue is C code with no Condition: a put and a get cost a fraction of
        # queue.Queue's. Bounding is done by `pending`, which only the loop thread changes.
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._keys = itertools.count(1)
        self._queued: dict[int, bool] = {}
        self._live: dict[int, bool] = {}
        self._spares = 0  # threads started in place of ones stuck in cancelled calls
        self._names = itertools.count()
        self.pending = 0  # submitted and not yet finished (running or waiting)
        self.last = 0  # the key of the last call submitted (the connection cancels by it)

    @property
    def size(self) -> int:
        """Threads the pool runs (once started)."""
        return self._size

    @property
    def waiting(self) -> int:
        """Calls queued for a thread (not yet running)."""
        return max(0, self.pending - self._size)

    def submit(self, work: Callable[[], Any], done: Callable[[Any], None]) -> int | None:
        """Queue `work` for a thread; `done(result)` runs later on the loop thread. The
        call's key (for cancel), or None when `threads + queue_size` calls are already in
        flight: answer 503."""
        if self.pending >= self._limit:
            return None
        return self._put(work, done)

    def _put(self, work: Callable[[], Any], done: Callable[[Any], None]) -> int:
        if not self._threads:
            self._start(self._size)  # on first use: an app without handlers costs no threads
        key = self.last = next(self._keys)
        self._queued[key] = self._live[key] = True
        self.pending += 1
        self._jobs.put((key, work, done))
        return key

    def cancel(self, key: int) -> None:
        """The call's answer is no longer wanted. A queued call is dropped and its slot
        freed now. A running one cannot be stopped: its slot is freed now and a spare
        thread takes its thread's place (that one retires when the call returns), up to
        `threads + queue_size` spares; past that the slot is freed when the call returns."""
        if self._queued.pop(key, False):
            self._live.pop(key, None)
            self.pending -= 1
        elif self._spares < self._limit and self._live.pop(key, False):
            self.pending -= 1
            self._spares += 1
            self._start(1)

    def _start(self, count: int) -> None:
        for _ in range(count):
            name = f"gateway-handler-{next(self._names)}"
            thread = threading.Thread(target=self._work, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        call_soon = self._loop.call_soon_threadsafe
        queued = self._queued
        live = self._live
        while True:
            job = self._jobs.get()
            if job is None:
                return
            key, work, done = job
            if not queued.pop(key, False):
                continue  # cancelled while it waited
            try:
                result = work()
            except BaseException:  # work() turns handler errors into responses itself
                log.exception("handler pool job failed")
                result = None
            if not live.pop(key, False):  # cancelled while it ran: a spare took our place
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                call_soon(functools.partial(self._retire, threading.current_thread()))
                return
            self._hand_back(result, done, call_soon)

    def _retire(self, thread: threading.Thread) -> None:
        self._spares -= 1
        if thread in self._threads:
            self._threads.remove(thread)

    def _hand_back(
        self, result: Any, done: Callable[[Any], None], call_soon: Callable[[Callback], None]
    ) -> None:
        """Give `result` to the loop and free the slot: in one callback for a whole
        response (the common case), in two around the pumping of a streamed one."""
        stream = None
        try:
            stream = _thread_stream(result, call_soon, self._resume)
        except BaseException:
            log.exception("handler pool job failed after the handler returned")
        if stream is None:
            call_soon(functools.partial(self._finish, done, result))
            return
        call_soon(functools.partial(done, result))
        try:
            stream.pump()  # until it ends, or parks while its client is not reading
        except BaseException:
            log.exception("streaming a response failed")
        finally:
            call_soon(self._job_done)  # the slot is free whatever happened

    def _resume(self, stream: ThreadStream) -> None:
        """On the loop: a parked stream has room again (or was closed); pump it on a
        thread. Past the queue limit: it belongs to a response already under way."""
        self._put(stream.pump, _ignore)

    def _finish(self, done: Callable[[Any], None], result: Any) -> None:
        self.pending -= 1
        done(result)

    def _job_done(self) -> None:
        self.pending -= 1

    def shutdown(self) -> None:
        """Ask every thread to stop after its current job; does not wait for them."""
        for _ in self._threads:
            self._jobs.put(None)


def _ignore(result: Any) -> None:
    return None


def _thread_stream(
    result: Any, call_soon: Callable[[Callback], None], resume: Callable[[ThreadStream], None]
) -> ThreadStream | None:
    """Swap an iterator body for a ThreadStream this thread will pump; None otherwise."""
    body = getattr(result, "body", None)
    if body is None or isinstance(body, (bytes, FileBody, PushBody)):
        return None
    stream = ThreadStream(iter(body), call_soon, resume)
    result.body = stream
    return stream
