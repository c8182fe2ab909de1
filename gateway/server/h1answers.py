"""Answers, a part of HttpProtocol: one whole request answered and its answer written. The
response cache, the operations paths, TLS hooks and App.handle give a Response (written now:
heads, bodies joined to them, files, streams), a proxy exchange or a handler call; a request
that could not be read gets its error answer, a 101 hands the connection over."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.errors import HTTPError
from gateway.http.events import RequestHead
from gateway.http.writer import Framing
from gateway.proxy.call import ProxyCall
from gateway.request import Request, build_request
from gateway.request_id import adopt, echo
from gateway.response import FileBody, Response, Switch
from gateway.server.h1state import HANDLING, SWITCHED
from gateway.server.output import encode_head, error_answer
from gateway.tls import hooks as tls_hooks

if TYPE_CHECKING:  # the connection as its parts see it (h1state.Conn)
    from gateway.server.h1state import Conn as Part
else:
    Part = object

COALESCE_LIMIT = 65536  # bodies up to this size go out in the same send as their head


class Answers(Part):
    """HttpProtocol's methods for answering a request; their `self` is the connection."""

    __slots__ = ()

    def _answer(self, head: RequestHead, body: Any, fed: bool) -> None:
        """Answer one whole request. `fed`: it came through the parser, which starts its
        next request once this one is dispatched; else it is a head at rest
        (_answer_at_rest) and the parser was never fed."""
        ctx = self.ctx
        cache = ctx.responses
        if cache is not None and (ctx.tls is not None and not self.secure):
            cache = None  # [tls] on a plain connection: its answers are the redirect's
        if cache is not None and cache.enabled and not body:
            cached = cache.lookup(head)
            if cached is None:
                pass  # not seen in this second (or this app): offered below
            elif not cached.status:
                cache = None  # an answer it refused already: not offered again
            elif self._send_cached(cache, cached, head.keep_alive, not fed):
                if fed:
                    self.parser.start_next()
                return
        try:
            request = build_request(head, body, self.client, ctx.next_request_id())
        except HTTPError as exc:
            if fed:
                self.parser.start_next()
            self._error_answer(exc, head)
            return
        id_header = ctx.request_id_header
        if id_header is not None and id_header in request.headers:
            adopt(request, id_header)  # the client's X-Request-ID, when it is a sane one
        ops = ctx.ops
        if request.path in ops.paths:  # metrics, health, ready: before any route
            result: Any = ops.answer(request.method, request.path, self.client[0])
            request.route = request.path
        elif ctx.tls is None or self.secure:
            result = ctx.app.handle(request)
        else:  # [tls] on a plain connection: an ACME challenge's answer or the 308 to https
            result = tls_hooks.plain_answer(ctx.tls, request, head) or ctx.app.handle(request)
        if fed:
            self.parser.start_next()
        keep_alive = head.keep_alive
        if isinstance(result, Response):
            if cache is not None and cache.enabled and not self._peer_done:
                cache.offer(head, request, result)  # kept for the next identical head
            self.send_response(request, result, keep_alive)
            return
        if isinstance(result, ProxyCall):
            whole = body if isinstance(body, bytes) else body.whole()  # (a spooled body)
            self._start_proxy(result, head, whole, keep_alive)
            return
        self._pending_id += 1
        token = self._pending_id
        pool = ctx.pool
        pool.last = 0  # set by a call submitted to the pool (an async one is not)
        if not result.submit(ctx, lambda response: self._on_handler_done(token, response)):
            self.send_response(request, result.busy_response(), keep_alive)
            return
        self._waiting = (request, result, keep_alive, pool.last)
        self.state = HANDLING
        if self.parser.in_message:  # pipelined bytes wait already: read no more for now
            self.transport.pause_reading()  # (else reading stays on: see data_received)
        self.deadline = ctx.loop.now + ctx.timeouts.handler

    # -- writing answers ------------------------------------------------------------------

    def send_response(self, request: Request, response: Response, keep_alive: bool) -> None:
        """Write `response` for `request` behind everything written before it."""
        ctx = self.ctx
        keep_alive = keep_alive and not self._peer_done and not ctx.shutting_down
        # Output is pending now, sent or not: the first of the write, idle and header
        # timeouts that could apply; on_timeout then works out which one really does.
        self.deadline = ctx.loop.now + ctx.answer_wait
        self._answered = True
        if ctx.request_id_header is not None and ctx.request_id_header in request.headers:
            echo(request, response, ctx.request_id_header)
        response, head, framing, length = encode_head(ctx, request, response, keep_alive)
        if self.hsts:
            head = head[:-2] + self.hsts
        body = response.body
        if not keep_alive or framing is Framing.CLOSE:
            self._last = True
        ctx.access_log(request, response.status, length, self.client)
        ctx.ops.observe(
            request.route,
            request.method,
            response.status,
            ctx.loop.now - self._started,
            request.body_length,
            length or 0,
        )
        transport = self.transport
        if framing is Framing.NONE:
            response.close()
            if response.status == 101 and isinstance(response, Switch):
                # The writer keeps Connection to itself; a 101 must name the upgrade in it.
                transport.write(head[:-2] + b"connection: upgrade\r\n\r\n")
                self._switch(response)
                return
            transport.write(head)
        elif type(body) is bytes:
            if len(body) <= COALESCE_LIMIT:
                transport.write(head + body)
            else:
                transport.write(head)
                transport.write(body)
        elif isinstance(body, FileBody):
            transport.write(head)
            if self._files is None:  # (inline: the hot path of static files)
                self._files = [body]
            else:
                self._files.append(body)
            transport.write_file(body.fd, body.offset, body.length, self._file_done)
        else:
            transport.write(head)
            self._start_stream(body, framing is Framing.CHUNKED)
            return
        if self._last:
            self._drain()

    def _error_answer(self, exc: HTTPError, head: RequestHead | None = None) -> None:
        """Answer a request that could not be read, then close: its framing is lost."""
        if self._body is not None:
            self._body.drop()  # its share of the body budget, its temp file
            self._body = None
        buffered = getattr(self.parser, "buffered", b"")
        request, status, data, length = error_answer(self.ctx, exc, head, self.client, buffered)
        self.transport.write(data)
        ctx = self.ctx
        ctx.access_log(request, status, length, self.client)
        method = "-" if request is None else request.method
        ctx.ops.observe("(unmatched)", method, status, ctx.loop.now - self._started, 0, length)
        self._last = True
        self._drain()

    def _switch(self, response: Switch) -> None:
        """101 Switching Protocols: the bytes after this request, and the connection, go
        to the protocol the response names. The server forgets the connection."""
        protocol = response.protocol_factory()
        leftover = self.parser.buffered
        self.state = SWITCHED
        self.ctx.forget(self)
        transport = self.transport
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        transport.resume_reading()
        if leftover:
            protocol.data_received(leftover)
