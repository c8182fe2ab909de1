"""Async handlers in the app: AsyncTarget (a route whose handler is `async def` or an async
generator), AsyncCall (its call as the server runs it: on the worker's one AsyncRunner, with
the same answers as a pooled call: HTTPError, 500, 504), and that process-wide runner."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import threading
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any, cast

from gateway.aio import AsyncGenBody, AsyncRequest, AsyncRunner, is_async_iterable
from gateway.aio.eager import Eager
from gateway.errors import HTTPError
from gateway.handlers import _checked, _name, to_response
from gateway.response import Response
from gateway.targets import Target

if TYPE_CHECKING:
    from gateway.request import Request
    from gateway.router.matcher import Match

log = logging.getLogger("gateway.handlers")

CallSoon = Callable[[Callable[[], None]], None]

_lock = threading.Lock()
_runner: AsyncRunner | None = None


def _forget_after_fork() -> None:
    """A forked child has no runner thread: it starts its own on first use."""
    global _runner, _lock
    _runner, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def runner() -> AsyncRunner:
    """This process's AsyncRunner, started on first use (a prefork worker's after the fork)."""
    current = _runner
    if current is not None and current.running:
        return current
    return _start_runner()


def _start_runner() -> AsyncRunner:
    global _runner
    with _lock:
        if _runner is None or not _runner.running:
            _runner = AsyncRunner()
            _runner.start()
        return _runner


def stop_runner(grace: float) -> None:
    """At the end of serving: cancel what still runs (up to `grace` seconds) and stop."""
    global _runner
    with _lock:
        current, _runner = _runner, None
    if current is not None:
        current.stop(grace)


@dataclass(frozen=True, slots=True, eq=False)
class AsyncTarget(Target):
    """A route whose handler is `async def` ("async") or an async generator ("asyncgen")."""

    func: Callable[[Any], Any] = field(default=lambda request: None)
    kind: str = "async"
    # Whether calls run eagerly on the server loop (gateway/aio/eager.py): set from func.
    eager: Eager = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "eager", Eager(self.label, self.func, self.kind))

    def serve(self, request: Request, match: Match[Any]) -> AsyncDeferred:  # type: ignore[override]
        return AsyncDeferred(self, request)


class CallAnswers:
    """The answers of a handler call that cannot give its own (shared by the pool's PoolCall
    and AsyncCall): the pool is full, it took too long, it gave nothing back."""

    __slots__ = ()
    app: Any  # gateway.app.App
    call: Any  # a Deferred or AsyncDeferred: .request, .target

    def busy_response(self) -> Response:
        return self._error(503, "server busy: try again shortly", [("retry-after", "1")])

    def timeout_response(self) -> Response:
        return self._error(504, f"handler timed out (request id {self.call.request.id})")

    def error_response(self) -> Response:
        return self._error(500, f"internal server error (request id {self.call.request.id})")

    def _error(
        self, status: int, detail: str, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        answer = self.app.render_error(status, self.call.request, self.call.target, detail, headers)
        return cast(Response, answer)


class AsyncDeferred:
    """What AsyncTarget.serve answers; the App wraps it as an AsyncCall."""

    __slots__ = ("request", "target")

    def __init__(self, target: AsyncTarget, request: Request) -> None:
        self.target = target
        self.request = request


class AsyncCall(CallAnswers):
    """An async handler call as the server sees it (the PoolCall interface): submit() starts
    it and `done(response)` later runs on the server loop with the finished Response."""

    __slots__ = ("app", "call", "job")
    # A request whose large body is still arriving carries it as `request.async_body`
    # (gateway.server.uploads feeds it): the server dispatches such requests at their head.
    # (abuse2's reports/abuse2-asynccall.patch, merged here.)
    streams_bodies = True

    def __init__(self, app: Any, call: AsyncDeferred) -> None:  # app: gateway.app.App
        self.app = app
        self.call = call
        self.job: Any = None

    def submit(self, ctx: Any, done: Callable[[Response | None], None]) -> bool:
        request, target = self.call.request, self.call.target
        if target.eager.on:  # no hop: it runs here, `done` follows on the next loop turn
            ctx.loop.call_soon(functools.partial(done, self._run_eager(ctx)))
            return True
        aio = runner()
        assert aio.loop is not None
        call_soon: CallSoon = ctx.loop.call_soon_threadsafe
        # The body arrived whole (request.body), or arrives as the handler reads it.
        arequest = AsyncRequest(request, getattr(request, "async_body", None))
        if target.kind == "asyncgen":  # nothing to await: the body is the generator
            body = AsyncGenBody(target.func(arequest), aio, call_soon)
            response = self._finish(Response(200, body, content_type=_stream_type(request)))  # type: ignore[arg-type]
            ctx.loop.call_soon(functools.partial(done, response))  # after the caller waits
            return True

        def finished(result: Any, exc: BaseException | None) -> None:  # on the async loop
            response = self._complete(result, exc, aio, call_soon)
            aio.deliver(call_soon, functools.partial(done, response))  # one wake per batch

        # No timer per call: past timeouts.handler the connection answers 504 and cancel()s.
        # On a server loop the async loop is woken once per batch of events (_wake_after).
        batched = _wake_after(ctx.loop)
        self.job = aio.submit(lambda: target.func(arequest), None, finished, wake=not batched)
        return True

    def _run_eager(self, ctx: Any) -> Response | None:
        """One step of the coroutine on the server loop's thread, in a copy of its context
        (as a Task would be). Its code cannot suspend (Eager proved it), so the step ends
        it: StopIteration carries the result, anything else is what it raised."""
        request, target = self.call.request, self.call.target
        coro = target.func(AsyncRequest(request, getattr(request, "async_body", None)))
        started = perf_counter()
        result: Any = None
        exc: BaseException | None = None
        try:
            contextvars.copy_context().run(coro.send, None)
        except StopIteration as stop:
            result = stop.value
        except (Exception, asyncio.CancelledError) as error:
            exc = error
        else:  # cannot happen for a proven coroutine; never leave one half run
            coro.close()
            exc = RuntimeError(f"eager handler {_name(target.func)} suspended")
        target.eager.ran(perf_counter() - started, self.app.config.server.inline_limit)
        return self._complete(result, exc, None, ctx.loop.call_soon_threadsafe)

    def run(self, timeout: float | None = None) -> Response:
        """Run the call to its end here and return the Response (gateway.testing: no
        server loop; callbacks run where they are called)."""
        finished = threading.Event()
        box: list[Response | None] = []

        def done(response: Response | None) -> None:
            box.append(response)
            finished.set()

        now = _Immediate(self.app.config.server.timeouts)
        self.submit(now, done)
        if not finished.wait(timeout or self.app.config.server.timeouts.handler):
            self.cancel()
            return self.timeout_response()
        return box[0] or self.error_response()

    def cancel(self) -> None:
        """The client left or the server gave up waiting: stop the handler."""
        if self.job is not None:
            self.job.cancel()

    def _complete(
        self, result: Any, exc: BaseException | None, aio: AsyncRunner | None, call_soon: CallSoon
    ) -> Response | None:
        request, target = self.call.request, self.call.target
        if exc is None:
            try:
                return self._finish(_checked(to_response(_async_bodies(result, aio, call_soon))))
            except Exception as error:
                exc = error
        if isinstance(exc, HTTPError):
            return cast(
                Response,
                self.app.render_error(
                    exc.status, request, target, exc.detail, exc.headers, page=False
                ),
            )
        if isinstance(exc, asyncio.CancelledError):
            return None  # the client left: nobody reads the answer
        log.error(
            "request %s: handler %s raised\n%s",
            request.id,
            _name(target.func),
            "".join(traceback.format_exception(exc)),
        )
        return cast(Response, self.app.handler_failed(exc, request, target))

    def _finish(self, response: Response) -> Response:
        return cast(Response, self.app.finish(self.call.request, self.call.target, response))


_batching: weakref.WeakSet[Any] = weakref.WeakSet()  # server loops that wake the runner


def _wake_runner() -> None:
    current = _runner
    if current is not None:
        current.wake()


def _wake_after(loop: Any) -> bool:
    """Whether `loop` (a server loop) wakes the async loop after each batch of its events,
    so the handler calls a batch submitted cost one wake-up, not one each. Set up on the
    first call; False for a loop without after_batch (gateway.testing runs calls at once)."""
    if loop in _batching:
        return True
    after = getattr(loop, "after_batch", None)
    if after is None:
        return False
    after.append(_wake_runner)
    _batching.add(loop)
    return True


class _Immediate:
    """A stand-in for the server's context in run(): callbacks run at once."""

    def __init__(self, timeouts: Any) -> None:
        self.timeouts = timeouts
        self.loop = self

    def call_soon(self, callback: Callable[[], None]) -> None:
        callback()

    call_soon_threadsafe = call_soon


def _async_bodies(result: Any, aio: AsyncRunner | None, call_soon: CallSoon) -> Any:
    """An async iterable returned (alone, in a tuple, or as a Response's body) becomes an
    AsyncGenBody the connection pulls from, so to_response sees only bodies it knows (an
    eager call passes no runner: it starts one only for such a body)."""
    if is_async_iterable(result):
        body = AsyncGenBody(aiter(result), aio or runner(), call_soon)
        return Response(200, body, content_type="application/octet-stream")  # type: ignore[arg-type]
    if isinstance(result, Response) and is_async_iterable(result.body):
        result.body = AsyncGenBody(aiter(result.body), aio or runner(), call_soon)  # type: ignore[arg-type,assignment]
    elif isinstance(result, tuple) and len(result) >= 2 and is_async_iterable(result[1]):
        result = (result[0], _async_bodies(result[1], aio, call_soon), *result[2:])
    return result


def _stream_type(request: Request) -> str:
    """An async generator handler's content type: an event stream when the client asked
    for one (EventSource sends Accept: text/event-stream), else bytes."""
    accept = request.headers.get("accept") or ""
    return "text/event-stream" if "text/event-stream" in accept else "application/octet-stream"
