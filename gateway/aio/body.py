"""A request body that may still be arriving, for async handlers: AsyncBody is fed on the
server loop's thread and read on the async loop, with backpressure (reading pauses while a
handler has not consumed its buffer); AsyncRequest gives `await request.body()/json()/form()`."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from gateway.errors import HTTPError

HIGH_WATER = 256 * 1024  # buffered and unread: pause the client
LOW_WATER = 64 * 1024  # ... and resume once the handler has read down to this


class AsyncBody:
    """Bytes fed by the server (feed/feed_eof/feed_error, on its loop thread) and read by a
    handler (read/iteration, on the async loop). Above `high` unread bytes the feeder's
    `pause()` runs at once (on the feeding thread: the server pauses reading); once the
    reader gets below `low`, `resume()` runs on the async thread, so it must be thread-safe
    (the server passes `lambda: loop.call_soon_threadsafe(transport.resume_reading)`)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        pause: Callable[[], None] | None = None,
        resume: Callable[[], None] | None = None,
        high: int = HIGH_WATER,
        low: int = LOW_WATER,
    ) -> None:
        self._loop = loop
        self._pause = pause
        self._resume = resume
        self._high, self._low = high, low
        self._lock = threading.Lock()
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._paused = False
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.consumed = False  # something was read: the body cannot be read whole again

    @classmethod
    def complete(cls, loop: asyncio.AbstractEventLoop, data: bytes) -> AsyncBody:
        """A body that already arrived whole (the common case for small requests)."""
        body = cls(loop)
        if data:
            body._chunks.append(data)
            body._buffered = len(data)
        body._eof = True
        return body

    # -- the feeding side: the server loop's thread -----------------------------------------

    def feed(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            if self._eof or self._error is not None:
                return
            self._chunks.append(bytes(data))
            self._buffered += len(data)
            pause = not self._paused and self._buffered >= self._high
            if pause:
                self._paused = True
        if pause and self._pause is not None:
            self._pause()
        self._wake_threadsafe()

    def feed_eof(self) -> None:
        with self._lock:
            self._eof = True
        self._wake_threadsafe()

    def feed_error(self, exc: BaseException) -> None:
        """The body will not complete (client gone, body timeout): readers get `exc`."""
        with self._lock:
            if self._error is None and not self._eof:
                self._error = exc
        self._wake_threadsafe()

    def _wake_threadsafe(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed async loop: nobody is reading
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the reading side: the async loop ---------------------------------------------------

    async def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (n < 0: whatever has arrived), waiting for some; b"" at the end."""
        while True:
            with self._lock:
                if self._chunks:
                    data = self._chunks.popleft()
                    if 0 < n < len(data):
                        self._chunks.appendleft(data[n:])
                        data = data[:n]
                    self._buffered -= len(data)
                    resume = self._paused and self._buffered <= self._low
                    if resume:
                        self._paused = False
                    self.consumed = True
                    break
                if self._error is not None:
                    raise self._error
                if self._eof:
                    return b""
                self._waiter = self._loop.create_future()
                waiter = self._waiter
            await waiter
        if resume and self._resume is not None:
            self._resume()
        return data

    async def readall(self, limit: int | None = None) -> bytes:
        parts = []
        size = 0
        while chunk := await self.read():
            size += len(chunk)
            if limit is not None and size > limit:
                raise HTTPError(413, f"request body over {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while chunk := await self.read():
            yield chunk


class AsyncRequest:
    """What an `async def` handler gets: every attribute of the gateway Request (method,
    path, params, query, headers, client, id...) plus awaitable body access. The body is
    read once: body()/json()/form() keep it; stream() hands chunks out as they arrive."""

    __slots__ = ("_body", "_read", "_request")

    def __init__(self, request: Any, body: AsyncBody | None = None) -> None:
        self._request = request
        self._body = body  # None: the body arrived whole, it is request.body
        self._read: bytes | None = None if body is not None else request.body

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    @property
    def request(self) -> Any:
        """The underlying (sync) Request."""
        return self._request

    async def body(self) -> bytes:
        if self._read is None:
            assert self._body is not None
            if self._body.consumed:
                raise RuntimeError("the request body was already streamed: it cannot be read whole")
            self._read = await self._body.readall()
            self._request.body = self._read  # so the sync helpers below parse what arrived
        return self._read

    async def json(self) -> Any:
        """The body as JSON (HTTPError 400 when it is not), as Request.json()."""
        await self.body()
        return self._request.json()

    async def form(self) -> Any:
        """Urlencoded or multipart fields, as Request.form()."""
        await self.body()
        return self._request.form()

    def stream(self) -> AsyncIterator[bytes]:
        """The body's chunks as they arrive (`async for chunk in request.stream()`)."""
        if self._read is not None or self._body is None:
            return _one(self._read or b"")
        return aiter(self._body)

    def __repr__(self) -> str:
        return f"<AsyncRequest {self._request!r}>"


async def _one(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data
