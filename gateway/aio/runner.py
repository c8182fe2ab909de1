"""AsyncRunner: one asyncio event loop in a daemon thread per worker (uvloop when it imports),
where async handlers, async hooks and WebSocket handlers run. Other threads submit coroutine
factories; a done callback gets the result or the exception exactly once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("gateway.aio")

CoroFactory = Callable[[], Awaitable[Any]]
Done = Callable[[Any, BaseException | None], None]  # (result, None) or (None, exception)


def _new_loop(use_uvloop: bool | None) -> tuple[asyncio.AbstractEventLoop, bool]:
    if use_uvloop is not False:
        try:
            import uvloop
        except ImportError:
            if use_uvloop:
                raise RuntimeError("uvloop was asked for but is not installed") from None
        else:
            return uvloop.new_event_loop(), True
    return asyncio.new_event_loop(), False


class Job:
    """One submitted coroutine. cancel() may be called from any thread (the client left);
    the done callback then gets asyncio.CancelledError."""

    __slots__ = ("_cancelled", "_loop", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True
        with contextlib.suppress(RuntimeError):  # a closed loop runs nothing any more
            self._loop.call_soon_threadsafe(self._cancel_on_loop)

    @property
    def task(self) -> asyncio.Task[Any] | None:
        """The running task (read it on the async loop only); None before it starts."""
        return self._task

    def _cancel_on_loop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class AsyncRunner:
    """The async side of one worker. start() once; submit() from any thread; stop() at
    shutdown cancels what still runs and joins the thread."""

    def __init__(self, name: str = "gateway-async", use_uvloop: bool | None = None) -> None:
        self.name = name
        self._use_uvloop = use_uvloop
        self.loop: asyncio.AbstractEventLoop | None = None
        self.uses_uvloop = False
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = threading.Lock()
        self._incoming: list[tuple[CoroFactory, float | None, Done, Job]] = []
        self._wake_sent = False  # _start_batch is scheduled for what _incoming holds
        # Results for other threads' loops, sent on by one _flush per async-loop turn
        # (touched on the async loop's thread only, so no lock).
        self._outbox: dict[Callable[[Callable[[], None]], None], list[Callable[[], None]]] = {}

    def start(self) -> None:
        if self._thread is not None:
            return
        loop, self.uses_uvloop = _new_loop(self._use_uvloop)
        self.loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        ready.wait()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self.loop is None or self.loop.is_closed():
            raise RuntimeError("the async runner is not started (or already stopped)")
        return self.loop

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run `callback(*args)` on the async loop (from any thread)."""
        self._loop().call_soon_threadsafe(callback, *args)

    def submit(
        self, factory: CoroFactory, timeout: float | None, done: Done, wake: bool = True
    ) -> Job:
        """Run `factory()` (an `async def` handler bound to its request, say) on the async
        loop. `done(result, exc)` is called once, on the async loop's thread: the server
        hands it to its own loop with call_soon_threadsafe. A run longer than `timeout`
        seconds is cancelled and done gets TimeoutError (the app answers 504). With
        `wake=False` the call waits for the caller's wake() (the server loop calls it once
        per batch of events: one wake-up for every request that batch submitted)."""
        loop = self._loop()
        job = Job(loop)
        # One wake-up of the async loop per batch, not per call: while a batch waits to be
        # started, more calls join it (asyncio writes its self-pipe on every call_soon_threadsafe).
        with self._lock:
            self._incoming.append((factory, timeout, done, job))
            send = wake and not self._wake_sent
            if send:
                self._wake_sent = True
        if send:
            loop.call_soon_threadsafe(self._start_batch)
        return job

    def wake(self) -> None:
        """Start the calls submitted with wake=False (from any thread; cheap when none wait)."""
        if not self._incoming or self._wake_sent:  # read without the lock: rechecked below
            return
        with self._lock:
            if not self._incoming or self._wake_sent:
                return
            self._wake_sent = True
        with contextlib.suppress(RuntimeError):  # stopped meanwhile: stop() cancels them
            self._loop().call_soon_threadsafe(self._start_batch)

    def _start_batch(self) -> None:
        with self._lock:
            batch, self._incoming = self._incoming, []
            self._wake_sent = False
        for factory, timeout, done, job in batch:
            self._start_task(factory, timeout, done, job)

    def _start_task(
        self, factory: CoroFactory, timeout: float | None, done: Done, job: Job
    ) -> None:
        if job._cancelled:
            _call_done(done, None, asyncio.CancelledError())
            return
        task = asyncio.ensure_future(_guarded(factory, timeout, done))
        job._task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def deliver(
        self, call_soon: Callable[[Callable[[], None]], None], callback: Callable[[], None]
    ) -> None:
        """Hand `callback` to another loop through its thread-safe `call_soon` (async loop's
        thread only). What one turn of this loop finishes goes in one call_soon, after the
        turn: the other loop wakes once per batch of results, and not while this thread
        still holds the GIL to finish the rest of the batch."""
        outbox = self._outbox
        queued = outbox.get(call_soon)
        if queued is not None:
            queued.append(callback)
            return
        if not outbox:
            self._loop().call_soon(self._flush)
        outbox[call_soon] = [callback]

    def _flush(self) -> None:
        outbox, self._outbox = self._outbox, {}
        for call_soon, callbacks in outbox.items():
            try:
                call_soon(callbacks[0] if len(callbacks) == 1 else _run_all(callbacks))
            except Exception:
                log.exception("async runner: handing results back failed")

    def run(self, factory: CoroFactory, timeout: float | None = None) -> Any:
        """Run `factory()` on the async loop and wait for it here (hooks, tests). Never call
        it from the async loop's own thread: that would wait forever."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("AsyncRunner.run() called on the async loop's own thread")

        async def bounded() -> Any:
            async with asyncio.timeout(timeout):
                return await _awaited(factory)

        future = asyncio.run_coroutine_threadsafe(bounded(), self._loop())
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise asyncio.CancelledError() from None

    def stop(self, grace: float = 5.0) -> None:
        """Cancel what still runs (waiting up to `grace` seconds for it to unwind), close
        async generators, stop the loop and join its thread."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return

        async def wind_down() -> None:
            tasks = [t for t in self._tasks if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=grace)
            await loop.shutdown_asyncgens()

        if thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(wind_down(), loop).result(grace + 1.0)
            except Exception:
                log.exception("async runner: winding down failed")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(grace + 1.0)
        if not thread.is_alive():
            loop.close()
        self._thread = None


async def _awaited(factory: CoroFactory) -> Any:
    awaitable = factory()
    if not inspect.isawaitable(awaitable):
        raise TypeError(
            f"an async handler must return an awaitable; got {type(awaitable).__name__!r} "
            "(define it with `async def`)"
        )
    return await awaitable


async def _guarded(factory: CoroFactory, timeout: float | None, done: Done) -> None:
    try:
        if timeout is None:  # the caller keeps its own deadline: no timer per call
            result = await _awaited(factory)
        else:
            async with asyncio.timeout(timeout):
                result = await _awaited(factory)
    except BaseException as exc:  # a handler's SystemExit must not stop the loop either
        _call_done(done, None, exc)
        return
    _call_done(done, result, None)


def _run_all(callbacks: list[Callable[[], None]]) -> Callable[[], None]:
    def run_all() -> None:
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one result's bug must not lose the others
                log.exception("async runner: a delivered callback raised")

    return run_all


def _call_done(done: Done, result: Any, exc: BaseException | None) -> None:
    try:
        done(result, exc)
    except Exception:
        log.exception("async runner: a done callback raised")
