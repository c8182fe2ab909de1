"""Proxying, a part of HttpProtocol: the connection's side of a proxy route's exchange, which
gateway.proxy.serving.ProxyDriver runs: its start (at EndOfMessage, or at the head for a body
that streams upstream: copied through the parser here, or spliced by proxybody.py), its end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.errors import HTTPError
from gateway.http.events import Data, EndOfMessage, RequestHead
from gateway.proxy.call import ProxyCall
from gateway.proxy.serving import ProxyDriver, proxy_call_at_head
from gateway.request import Request
from gateway.response import Response
from gateway.server import proxybody
from gateway.server.bodies import check_rate
from gateway.server.h1state import PROXYING, READING, RESTING, SWITCHED

if TYPE_CHECKING:  # the connection as its parts see it (h1state.Conn)
    from gateway.server.h1state import Conn as Part
else:
    Part = object


class Proxying(Part):
    """HttpProtocol's methods for proxied requests; their `self` is the connection."""

    __slots__ = ()

    def _start_proxy(
        self, call: ProxyCall, head: RequestHead, body: bytes, keep: bool, uploading: bool = False
    ) -> None:
        keep = keep and not self._peer_done and not self.ctx.shutting_down
        self.state = PROXYING
        if not uploading:
            # Reading stays on (two epoll_ctl a request saved) until bytes arrive meanwhile:
            # data_received pauses it then.
            self.deadline = float("inf")  # the exchange owns the upstream's timeouts
        self._proxy = driver = ProxyDriver(self, call, head, keep)
        driver.uploading = uploading
        driver.start(None if uploading else body)

    def _proxy_at_head(self, head: RequestHead) -> bool:
        """A request with a body (_process checks) for a proxy route: start the exchange
        now, so the body streams upstream as it arrives (the parser still enforces
        max_body_bytes)."""
        if self.ctx.tls is not None and not self.secure:
            return False  # [tls] on a plain connection: _dispatch answers (its redirect)
        # A large Content-Length body from a plain-TCP client may be spliced upstream
        # around the parser, its 100 Continue sent once the upstream has the head
        # (proxybody); any other Expect: 100-continue body is read whole first.
        large = proxybody.spliceable(self, head)
        if head.expect_continue and not large:
            return False
        call = proxy_call_at_head(self.ctx, head, self.client)
        if call is None:
            return False
        self._copied = 0
        self._start_proxy(call, head, b"", head.keep_alive, uploading=True)
        if large and self._proxy is not None:
            proxybody.attach(self, self._proxy, head)
        if self._proxy is not None:
            self._proxy_body()
        return True

    def proxy_body_skipped(self, count: int) -> None:
        """`count` bytes of the request body went upstream around the parser (spliced:
        proxybody): the parser skips them, and what follows them is read as usual."""
        self.parser.body_skipped(count)
        if self._proxy is not None and self._proxy.uploading:
            self._proxy_body()

    def _proxy_body(self) -> None:
        """Pass what the parser has of the request body to the exchange."""
        proxy = self._proxy
        assert proxy is not None
        parser = self.parser
        ctx = self.ctx
        while True:
            try:
                event = parser.next_event()
                kind = type(event)
                if kind is Data:
                    # Held to min_body_rate as a body read whole is (bodies.check_rate).
                    self._copied += len(event.data)  # type: ignore[union-attr]
                    check_rate(self._copied, self._started, ctx.loop.now, ctx.app.config.server)
            except HTTPError as exc:  # 413 past max_body_bytes, bad chunking; 408 too slow
                self._proxy_body_failed(proxy, exc)
                return
            if kind is Data:
                proxy.exchange.body(event.data)  # type: ignore[union-attr]
            elif kind is EndOfMessage:
                proxy.uploading = False
                self._head = None
                parser.start_next()
                self.transport.pause_reading()  # pipelined requests wait for the answer
                if self.state is PROXYING:
                    self.deadline = float("inf")
                proxy.exchange.end_body(
                    list(event.trailers.items()) if event.trailers else None  # type: ignore[union-attr]
                )
                return
            else:
                return  # NEED_DATA

    def _proxy_body_failed(self, proxy: ProxyDriver, exc: HTTPError) -> None:
        """The request body cannot go on: the upstream request is dropped, and the client
        gets the error (closed after it), or a bare close once the response began."""
        self._proxy = None
        proxy.exchange.cancel()
        self.state = READING
        if proxy.responder.status:
            self.transport.abort()  # the response began: it cannot be answered
        else:
            self._error_answer(exc, self._head)

    def proxy_done(self, keep_alive: bool) -> None:
        """The proxied response is written (or cut short: keep_alive False)."""
        if self._proxy is not None and self._proxy.uploading:
            keep_alive = False  # the rest of the request body is still coming: close
        self._proxy = None
        if self.state is not PROXYING:
            return
        self._answered = True
        self.deadline = self.ctx.loop.now + self.ctx.answer_wait
        self.state = READING
        if not keep_alive:
            self._last = True
            self._drain()
            return
        parser = self.parser
        if (
            (parser is RESTING or parser.at_rest)
            and not self._peer_done
            and not self._writing_paused
            and not self.ctx.crowded
        ):
            # Nothing came meanwhile (the common case): no requests wait to be processed,
            # and reading is still on (resume_reading: unless a streamed body ended).
            self.transport.resume_reading()
            return
        self._resume()

    def proxy_failed(self, request: Request, response: Response, keep_alive: bool) -> None:
        """No upstream answer came: send the app's error response instead."""
        if self._proxy is not None and self._proxy.uploading:
            keep_alive = False  # the rest of the request body is still coming: close
        self._proxy = None
        if self.state is not PROXYING:
            return
        self.state = READING
        self.send_response(request, response, keep_alive)
        if self.state is READING:
            self._resume()

    def proxy_switched(self) -> bytes:
        """The upstream said 101: the connection becomes a tunnel the exchange owns."""
        self._proxy = None
        self.state = SWITCHED
        self.ctx.forget(self)
        return self.parser.buffered
