"""HandlerCalls, a part of HttpProtocol: its handler calls on the pool or the async loop.
The answer coming back (or not: timed out, client gone), and a large body fed to the
handler as it arrives, the client paused while the handler has not read it (uploads.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.errors import HTTPError, ProtocolError
from gateway.http.events import Data, EndOfMessage, RequestHead
from gateway.response import Response
from gateway.server.h1state import HANDLING, READING
from gateway.server.uploads import handler_call_at_head, too_large

if TYPE_CHECKING:  # the connection as its parts see it (h1state.Conn)
    from gateway.server.h1state import Conn as Part
else:
    Part = object


class HandlerCalls(Part):
    """HttpProtocol's methods for its handler calls; their `self` is the connection."""

    __slots__ = ()

    def _on_handler_done(self, token: int, response: Response | None) -> None:
        if token != self._pending_id or self.state is not HANDLING:
            if response is not None:
                response.close()  # the request timed out or the client left
            return
        request, call, keep_alive, _job = self._waiting
        self._waiting = None
        if self._upload is not None:  # answered before the whole body came: close after
            self._end_upload("the handler answered before reading the whole body")
            keep_alive = False
        self.state = READING
        if response is None:
            response = call.error_response()
        transport = self.transport
        transport.cork()
        self.send_response(request, response, keep_alive)
        self._process()  # pipelined requests that arrived meanwhile
        if self.state is READING:
            transport.resume_reading()
        transport.uncork()

    # -- request bodies a pooled handler reads as they arrive (uploads.py) ---------------

    def _handler_at_head(self, head: RequestHead) -> bool:
        """A large body for a pooled handler: start the call now, and feed it the body as
        it arrives (`request.stream()`); False to read the body first, as usual."""
        ctx = self.ctx
        if not head.chunked and head.content_length <= ctx.app.config.server.body_buffer_size:  # type: ignore[operator]
            return False  # a small body (the common case): read it first, as usual
        if head.expect_continue or (ctx.tls is not None and not self.secure):
            return False
        loop = ctx.loop
        made = handler_call_at_head(
            ctx, head, self.client, lambda: loop.call_soon_threadsafe(self._resume_upload)
        )
        if made is None:
            return False
        request, result, channel = made
        keep_alive = head.keep_alive
        if isinstance(result, Response):  # answered without the handler: the body is unread
            self.send_response(request, result, keep_alive=False)
            return True
        self._pending_id += 1
        token = self._pending_id
        pool = ctx.pool
        pool.last = 0
        if not result.submit(ctx, lambda response: self._on_handler_done(token, response)):
            self.send_response(request, result.busy_response(), keep_alive=False)
            return True
        self._waiting = (request, result, keep_alive, pool.last)
        self._upload = channel
        self.state = HANDLING
        self.deadline = loop.now + ctx.timeouts.handler
        self._feed_upload()
        return True

    def _feed_upload(self) -> None:
        """Pass what the parser has of the body to the handler; pause the client while
        the handler has not read what waits."""
        channel = self._upload
        assert channel is not None
        parser = self.parser
        ctx = self.ctx
        while True:
            try:
                event = parser.next_event()
            except ProtocolError as exc:  # 413 past max_body_bytes, bad chunking
                self._upload = None
                channel.fail(exc)
                self._abandon_call()
                self._error_answer(exc, self._head)
                return
            kind = type(event)
            if kind is Data and self._limit and channel.size + len(event.data) > self._limit:  # type: ignore[union-attr]
                error = too_large(self._limit)
                self._upload = None
                channel.fail(error)
                self._abandon_call()
                self._error_answer(error, self._head)
                return
            if kind is Data:
                self.deadline = ctx.loop.now + ctx.timeouts.handler  # bytes move: not stuck
                if channel.feed(event.data):  # type: ignore[union-attr]
                    self.transport.pause_reading()
            elif kind is EndOfMessage:
                self._upload = None
                channel.end()
                self._head = None
                parser.start_next()
                self.transport.pause_reading()  # pipelined requests wait for the answer
                return
            else:
                return  # NEED_DATA

    def _resume_upload(self) -> None:
        """The handler has read what waited: read from the client again."""
        if self._upload is not None and self.state is HANDLING:
            self.transport.resume_reading()

    def _end_upload(self, why: str) -> None:
        channel, self._upload = self._upload, None
        if channel is not None:
            channel.fail(HTTPError(400, f"request body incomplete: {why}"))

    def _abandon_call(self) -> None:
        """Forget the pooled call of the request being answered otherwise."""
        if self._waiting is not None:
            _request, call, _keep_alive, job = self._waiting
            self._waiting = None
            self._pending_id += 1
            call.cancel()
            if job:
                self.ctx.pool.cancel(job)
        self.state = READING
