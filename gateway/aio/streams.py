"""AsyncGenBody: an `async def` handler's async generator as a response body (SSE included),
pulled rather than pushed: the next item is asked of the generator only when the connection
takes what it has, so a client that stops reading stops the generator (one item ahead)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from gateway.aio.runner import AsyncRunner, Job
from gateway.response import PushBody

log = logging.getLogger("gateway.aio")

CallSoon = Callable[[Callable[[], None]], None]


class AsyncGenBody(PushBody):
    """A PushBody whose take() drives an async iterator on `runner`'s loop. Results come
    back through `call_soon` (the server Loop's call_soon_threadsafe), so push/end/fail
    happen on the loop thread as PushBody expects. The connection calls take() only when
    its output has room: that is the whole of the backpressure."""

    __slots__ = (
        "_agen",
        "_call_soon",
        "_closed",
        "_finished",
        "_job",
        "_pulling",
        "_runner",
        "item_timeout",
    )

    def __init__(
        self,
        agen: AsyncIterator[Any],
        runner: AsyncRunner,
        call_soon: CallSoon,
        item_timeout: float | None = None,
    ) -> None:
        super().__init__()
        self._agen = agen
        self._runner = runner
        self._call_soon = call_soon
        self._job: Job | None = None
        self._pulling = False
        self._finished = False  # no more pulls: the iterator ended or failed, or close()
        self._closed = False
        self.item_timeout = item_timeout  # None: an event stream may be quiet for long

    def take(self) -> bytes | None:
        data = super().take()
        if data is not None and not self._pulling and not self._finished:
            self._pull()  # one item ahead: asked for now, sent at the next take()
            if not data and self._finished:  # the pull could not even start: end now
                return super().take()
        return data

    def _pull(self) -> None:
        self._pulling = True
        try:
            self._job = self._runner.submit(self._agen.__anext__, self.item_timeout, self._pulled)
        except RuntimeError:  # the async runner is stopped (shutting down): end the body
            self._pulling = False
            self._finished = True
            self.fail()

    def _pulled(self, item: Any, exc: BaseException | None) -> None:
        # On the async loop's thread: hop to the server loop before touching the body.
        with contextlib.suppress(RuntimeError):  # the server loop is gone: nobody to tell
            self._call_soon(functools.partial(self._deliver, item, exc))

    def _deliver(self, item: Any, exc: BaseException | None) -> None:
        self._pulling = False
        if self._finished:
            return
        if exc is None:
            try:
                data = _as_bytes(item)
            except TypeError as error:
                exc = error
            else:
                self.push(data)
                return
        self._finished = True
        if isinstance(exc, StopAsyncIteration):
            self.end()
        elif isinstance(exc, asyncio.CancelledError):
            self.fail()
        else:
            log.error("streamed response body failed: %s: %s", type(exc).__name__, exc)
            self.fail()

    def close(self) -> None:
        """The connection let go (finished, or the client left): stop the generator on its
        own loop, after any pull in flight is cancelled and unwound."""
        if not self._closed:
            self._closed = self._finished = True
            job, self._job = self._job, None
            with contextlib.suppress(RuntimeError):  # the runner is stopped: nothing to close
                self._runner.submit(
                    functools.partial(_aclose, self._agen, job if self._pulling else None),
                    5.0,
                    _log_close_failure,
                )
        super().close()


async def _aclose(agen: AsyncIterator[Any], job: Job | None) -> None:
    if job is not None:
        task = job.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    aclose = getattr(agen, "aclose", None)
    if aclose is not None:
        await aclose()


def _log_close_failure(_result: Any, exc: BaseException | None) -> None:
    if exc is not None:
        log.error("closing a streamed body failed: %s: %s", type(exc).__name__, exc)


def _as_bytes(item: object) -> bytes:
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    raise TypeError(f"a streamed body yielded {type(item).__name__!r}: yield bytes or str")
