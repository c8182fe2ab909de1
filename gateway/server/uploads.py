"""A request body a handler reads while it arrives: `for chunk in request.stream()` on a pool
thread (BodyChannel), `async for chunk in request.stream()` on the async loop (AsyncChannel,
over gateway.aio's AsyncBody). The server loop feeds it; reading from the client pauses
while more than HIGH_WATER bytes wait unread, and resumes once the handler has read them
down to LOW_WATER, so an upload never takes more memory than that, whatever its size."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gateway.aio.body import AsyncBody
from gateway.asynccall import AsyncCall, AsyncTarget, runner
from gateway.errors import HTTPError
from gateway.http.events import RequestHead
from gateway.request import Request, build_request
from gateway.router.matcher import NoMatch
from gateway.targets import HandlerTarget

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024


class BodyChannel:
    """A BodySource (gateway.request) fed on the loop thread and read on a pool thread."""

    __slots__ = ("_chunks", "_cond", "_ended", "_error", "_paused", "_resume", "_unread", "size")

    def __init__(self, resume: Callable[[], None]) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._chunks: collections.deque[bytes] = collections.deque()
        self._unread = 0
        self._ended = False
        self._error: HTTPError | None = None
        self._paused = False
        self._resume = resume  # called on the reading thread: must be thread-safe
        self.size = 0  # bytes fed so far

    # -- the loop's side --------------------------------------------------------------------

    def feed(self, data: bytes) -> bool:
        """Hand `data` to the reader; True when the client should be paused."""
        with self._cond:
            self._chunks.append(data)
            self._unread += len(data)
            self.size += len(data)
            self._cond.notify()
            if self._unread >= HIGH_WATER and not self._paused:
                self._paused = True
                return True
            return False

    def end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def fail(self, error: HTTPError) -> None:
        """The rest will never come (client gone, timeout, bad framing): the reader raises."""
        with self._cond:
            if not self._ended:
                self._error = error
            self._cond.notify_all()

    @property
    def ended(self) -> bool:
        return self._ended

    # -- the handler's side ------------------------------------------------------------------

    def chunks(self) -> Iterator[bytes]:
        """The pieces as they arrive; waits for each (raises HTTPError if the body
        cannot complete)."""
        while True:
            with self._cond:
                while not self._chunks and not self._ended and self._error is None:
                    self._cond.wait()
                if self._chunks:
                    data = self._chunks.popleft()
                    self._unread -= len(data)
                    resume = self._paused and self._unread <= LOW_WATER
                    if resume:
                        self._paused = False
                elif self._error is not None:
                    raise self._error
                else:
                    return
            if resume:
                self._resume()
            yield data

    def whole(self) -> bytes:
        """The rest of the body, once it has all arrived."""
        return b"".join(self.chunks())

    def close(self) -> None:
        return None


# AsyncCall builds its AsyncRequest around `request.async_body` (a patch to asynccall.py,
# reports/abuse2-asynccall.patch): until then async handlers get their body whole, as before.
ASYNC_STREAMS = bool(getattr(AsyncCall, "streams_bodies", False))


class AsyncChannel:
    """The same feeding side as BodyChannel, for an async handler: its AsyncRequest reads
    `async_body` (`await request.body()`, `async for chunk in request.stream()`)."""

    __slots__ = ("_pause_now", "async_body", "size")

    def __init__(self, resume: Callable[[], None]) -> None:
        aio = runner()
        assert aio.loop is not None
        self._pause_now = False
        self.async_body = AsyncBody(
            aio.loop, pause=self._on_pause, resume=resume, high=HIGH_WATER, low=LOW_WATER
        )
        self.size = 0

    def _on_pause(self) -> None:  # called inside feed(), on the server loop
        self._pause_now = True

    def feed(self, data: bytes) -> bool:
        self._pause_now = False
        self.size += len(data)
        self.async_body.feed(data)
        return self._pause_now

    def end(self) -> None:
        self.async_body.feed_eof()

    def fail(self, error: HTTPError) -> None:
        self.async_body.feed_error(error)

    @property
    def ended(self) -> bool:
        return False

    def chunks(self) -> Iterator[bytes]:
        raise RuntimeError("an async handler reads its body with await request.body()")

    def whole(self) -> bytes:
        raise RuntimeError("an async handler reads its body with await request.body()")

    def close(self) -> None:
        return None


Channel = BodyChannel | AsyncChannel


def body_limits(routes: Iterable[Any]) -> dict[str, int]:
    """The routes with a `max_body_bytes` of their own, by their label (Target.route:
    the host, if any, then the path)."""
    return {
        (route.host or "") + (route.path or "/"): route.max_body_bytes
        for route in routes
        if route.max_body_bytes is not None
    }


def body_limit_at_head(ctx: Any, head: RequestHead, client: tuple[str, int]) -> int:
    """The most body bytes this request's route takes (its own max_body_bytes, else the
    server's); only asked when some route has its own."""
    default: int = ctx.app.config.server.max_body_bytes
    try:
        probe = build_request(head, b"", client, "")
        match = ctx.app.router.match(probe.host, probe.method, probe.segments)
    except (HTTPError, NoMatch):
        return default
    assert ctx.body_limits is not None
    limit: int = ctx.body_limits.get(match.target.route, default)
    return limit


def too_large(limit: int) -> HTTPError:
    return HTTPError(413, f"request body over this route's limit of {limit} bytes")


def handler_call_at_head(
    ctx: Any, head: RequestHead, client: tuple[str, int], resume: Callable[[], None]
) -> tuple[Request, Any, Channel] | None:
    """For a request whose body is large (over `[server] body_buffer_size`, or chunked) to
    a handler route that runs on the pool: the Request (its body a BodyChannel) and the
    pool call, made now so the handler can read the body as it arrives. None for every
    other request: it is dispatched once its body is in, as usual (a handler placed on the
    loop must never wait for a body)."""
    if not head.chunked and (head.content_length or 0) <= ctx.app.config.server.body_buffer_size:
        return None
    app = ctx.app
    try:
        probe = build_request(head, b"", client, "")
        match = app.router.match(probe.host, probe.method, probe.segments)
    except (HTTPError, NoMatch):
        return None
    target = match.target
    if probe.path in ctx.ops.paths:
        return None
    channel: Channel
    if type(target) is HandlerTarget and not target.placement.inline:
        channel = BodyChannel(resume)
    elif type(target) is AsyncTarget and target.kind == "async" and ASYNC_STREAMS:
        channel = AsyncChannel(resume)
    else:
        return None
    request = build_request(head, channel, client, ctx.next_request_id())
    return request, app.handle(request), channel
