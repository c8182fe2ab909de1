"""HttpProtocol: the server side of HTTP/1.1 on one connection, driven by a Transport (which
owns the socket). This module owns the transport's callbacks, the reading of requests (the
parser, pipelined requests in order, request bodies) and the deadlines; its parts, mixins,
own the rest: h1answers, h1atrest, h1calls, h1proxy, h1flow (what they share: h1state)."""

from __future__ import annotations

import logging
from typing import Any

from gateway.errors import HTTPError, ProtocolError
from gateway.http.events import NEED_DATA, Data, EndOfMessage, RequestHead
from gateway.http.parser import RequestParser
from gateway.http.writer import CONTINUE
from gateway.proxy.serving import ProxyDriver
from gateway.response import FileBody
from gateway.server.bodies import BodyReader
from gateway.server.context import ConnContext
from gateway.server.h1answers import Answers
from gateway.server.h1atrest import AtRest
from gateway.server.h1calls import HandlerCalls
from gateway.server.h1flow import OutputFlow
from gateway.server.h1proxy import Proxying
from gateway.server.h1state import (
    CLOSED,
    DRAINING,
    HANDLING,
    HELD,
    PROXYING,
    READING,
    RESTING,
    STREAMING,
    Conn,
    LimitedParser,
)
from gateway.server.output import Stream
from gateway.server.transport import Protocol, Transport
from gateway.server.uploads import Channel, body_limit_at_head, too_large
from gateway.tls import hooks as tls_hooks

log = logging.getLogger("gateway.server")

HIGH_WATER = 1 << 20  # parse no new request while this much output waits ...
LOW_WATER = 0  # ... until all of it is sent
# File bodies queued on one connection before it stops taking pipelined requests: each holds
# an open fd (or a reference that keeps an evicted cached one open) until it is sent.
MAX_QUEUED_FILES = 8
# Parser events one connection may handle before it lets the others have the loop (it goes
# on, via call_soon, after them): 4 MiB of pipelined requests cannot hold everyone up.
TURN_EVENTS = 64
# Parsers at rest kept for reuse (350 bytes each): a keep-alive connection gives its parser
# back once it has been idle for the soonest of the header, idle and write timeouts, or at
# once after each request while its worker holds many connections (ctx.crowded).
SPARE_PARSERS = 256


class HttpProtocol(Answers, AtRest, HandlerCalls, Proxying, OutputFlow, Protocol):
    """One client connection: parses what arrives, dispatches each complete request in
    order, writes the answers, and keeps one deadline for whichever timeout applies now
    (the server's tick calls on_timeout once it passes)."""

    __slots__ = Conn.__slots__  # one list: mypy checks the parts against Conn's

    def __init__(self, ctx: ConnContext, client: tuple[str, int]) -> None:
        self.ctx = ctx
        self.client = client
        self.parser: RequestParser = RESTING  # a parser of its own from its first byte
        self.state = READING
        self.deadline = ctx.loop.now + ctx.timeouts.header
        self._head: RequestHead | None = None
        self._body: BodyReader | None = None  # made at a body's first byte
        self._files: list[FileBody] | None = None  # made by the first file; idle: dropped
        self._stream: Stream | None = None
        self._upload: Channel | None = None  # a body a pooled handler reads as it arrives
        self._limit = 0  # the request's route's own max_body_bytes (ctx.body_limits), if any
        self._waiting: Any = None  # (request, call, keep_alive, pool key) while HANDLING
        self._pending_id = 0
        self._started = ctx.loop.now  # the current request's first byte (metrics latency)
        self._peer_done = False
        self._last = False
        self._answered = False  # an answer was queued since on_timeout last looked
        self._writing_paused = False
        self.secure = False  # over TLS ([tls]); set in connection_made
        self.hsts = b""  # the Strict-Transport-Security line its answers carry, if any
        self._proxy: ProxyDriver | None = None
        self._copied = 0  # body bytes of the proxied request passed upstream (min_body_rate)

    # -- from the transport ---------------------------------------------------------------

    def connection_made(self, transport: Transport) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        if self.ctx.tls is not None:  # only with [tls]: test transports need not answer
            self.secure, self.hsts = tls_hooks.connection_facts(self.ctx.tls, transport)

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if (
            self.state is READING
            and data.endswith(b"\r\n\r\n")
            and (parser is RESTING or parser.at_rest)
            and self._answer_at_rest(data)
        ):
            return  # a head seen before, answered from the response cache
        if parser is RESTING:
            spares = self.ctx.parsers
            parser = self.parser = spares.pop() if spares else LimitedParser(self.ctx.parser_limits)
        if self.state is HANDLING:
            if self._upload is not None:  # the handler reads the body as it arrives
                parser.feed(data)
                self._feed_upload()
                return
            # Reading stays on while a handler runs (two epoll_ctl a request saved) until
            # bytes arrive meanwhile: then it stops, and they wait in the parser, read
            # once the answer is queued; the handler's deadline stands meanwhile.
            parser.feed(data)
            self.transport.pause_reading()
            return
        if self.state is PROXYING and not (self._proxy is not None and self._proxy.uploading):
            # The same for a proxied request once its body is in: the bytes wait in the
            # parser (and its deadline stays the exchange's) until the answer is done.
            parser.feed(data)
            self.transport.pause_reading()
            return
        was_idle = not parser.in_message
        parser.feed(data)
        if was_idle and parser.in_message:
            # The header clock starts at a request's first byte; stray CRLFs (which the
            # parser skips) must not restart it, or they would keep a connection forever.
            now = self.ctx.loop.now
            self._started = now
            self.deadline = now + self.ctx.timeouts.header
        elif self._head is not None:
            self.deadline = self.ctx.loop.now + self.ctx.timeouts.body
        if self.state is READING:  # else the bytes wait in the parser
            self._process()  # the transport sends what this writes when it returns
        elif self._proxy is not None and self._proxy.uploading:
            self._proxy_body()

    def eof_received(self) -> None:
        self._peer_done = True
        if self.state is READING:
            self._drain()  # a request cut short is dropped; queued answers still go out
        elif self._upload is not None:
            # Cut short in a body a handler reads as it arrives: the rest can never come,
            # so its stream() fails now (400) rather than at the handler's timeout.
            self._end_upload("the client closed its side of the connection")
        elif self._proxy is not None and self._proxy.uploading:
            # The same in a body going upstream: dropped now, as a request cut short in
            # READING is, not at the exchange's timeout (an upstream connection held).
            proxy, self._proxy = self._proxy, None
            proxy.exchange.cancel()
            self.state = READING
            if proxy.responder.status:
                self.transport.abort()  # an early answer began: it cannot be finished
            else:
                self._drain()
        # Otherwise the answer in progress finishes; _process then closes at NEED_DATA.

    def connection_lost(self, exc: BaseException | None) -> None:
        self.state = CLOSED
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            proxy.exchange.cancel()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
        if self._body is not None:
            self._body.drop()
            self._body = None
        self._end_upload("the client closed the connection")
        if self._waiting is not None:
            self._pending_id += 1  # the late result will be dropped
            self._waiting[1].cancel()
            if self._waiting[3]:  # a pooled call: a queued one never runs
                self.ctx.pool.cancel(self._waiting[3])
            self._waiting = None
        files, self._files = self._files, None
        while files:  # done(False) normally closed them; this is the safety net
            files.pop(0).close()
        self.ctx.forget(self)

    def pause_writing(self) -> None:
        self._writing_paused = True
        if self._proxy is not None:
            self._proxy.exchange.pause_response()
            # A client that stops reading a proxied response: on_timeout closes it once
            # its output makes no progress for the write timeout.
            self.deadline = self.ctx.loop.now + self.ctx.timeouts.write

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._proxy is not None:
            if not self._proxy.uploading:
                self.deadline = float("inf")  # the exchange owns the upstream's timeouts
            self._proxy.exchange.resume_response()
        elif self.state is STREAMING:
            self._pump()
        elif self.state is HELD:
            self._resume()

    # -- the server's view ----------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Nothing in progress: safe to close at shutdown."""
        return (
            self.state is READING
            and not self.parser.in_message
            and not self._files
            and not self.transport.get_write_buffer_size()
        )

    @property
    def _mask(self) -> int:
        """The transport's selector events (tests look at whether it still reads)."""
        return getattr(self.transport, "mask", 0)

    def close(self) -> None:
        """Close now (shutdown, or an unexpected error): queued output is dropped."""
        if self.state is not CLOSED:
            self.transport.abort()

    def on_timeout(self) -> None:
        """The deadline passed: answer 504 for a stuck handler, 408 for a slow request,
        close a stalled writer or an idle connection; or move the deadline on when output
        made progress since it was set."""
        ctx = self.ctx
        now = ctx.loop.now
        state = self.state
        if state is HANDLING:
            request, call, _keep_alive, job = self._waiting
            self._waiting = None
            self._end_upload("the handler timed out")
            self._pending_id += 1  # the late result will be dropped
            call.cancel()  # an async handler stops; a pool thread cannot, but ...
            if job:
                ctx.pool.cancel(job)  # ... its slot is free now (a queued call never runs)
            self.state = READING
            log.error(
                "handler timed out: request %s %s %s", request.id, request.method, request.path
            )
            self.send_response(request, call.timeout_response(), keep_alive=False)
            return
        transport = self.transport
        if self._files or transport.get_write_buffer_size() or state is STREAMING:
            due = transport.progress_at + ctx.timeouts.write
            if due > now:
                self.deadline = due
                return
            transport.abort()  # a client that stopped reading its answers
            return
        in_message = self.parser.in_message
        if state is READING and self._wrote_since(now, in_message):
            return
        if in_message and state is READING:
            self._error_answer(HTTPError(408, "request timeout"))
        else:
            transport.abort() if state is not DRAINING else transport.close()

    def _wrote_since(self, now: float, in_message: bool) -> bool:
        # An answer went out since the deadline was set: the idle (or header) clock runs
        # from when its last byte was sent.
        if not self._answered:
            return False
        self._answered = False
        timeouts = self.ctx.timeouts
        due = self.transport.progress_at + (timeouts.header if in_message else timeouts.idle)
        if due > now:
            self.deadline = due
            if not in_message and self.parser.at_rest:
                # Idle between requests (its deadline came once the answer was sent): its
                # parser goes back for reuse now rather than after every request (cheaper).
                self._rest_parser(self.parser)
            return True
        return False

    # -- requests -------------------------------------------------------------------------

    def _process(self) -> None:
        """Parse and dispatch every complete request in the buffer, in order, until one
        has to wait (for the pool, a streamed body, or an output backlog)."""
        parser = self.parser
        turn = TURN_EVENTS
        while self.state is READING:
            turn -= 1
            if not turn:
                self._yield_turn()
                return
            if self._writing_paused or (self._files and len(self._files) >= MAX_QUEUED_FILES):
                self.state = HELD  # resumed when the backlog drains
                self.transport.pause_reading()
                return
            try:
                event = parser.next_event()
            except ProtocolError as exc:
                self._error_answer(exc, getattr(exc, "head", None) or self._head)
                return
            kind = type(event)
            if kind is RequestHead:
                self._head = event  # type: ignore[assignment]
                self._body = None
                self.deadline = self.ctx.loop.now + self.ctx.timeouts.body
                if self.ctx.body_limits is not None and self._over_route_limit(event):  # type: ignore[arg-type]
                    return
                if event.chunked or event.content_length:  # type: ignore[union-attr]
                    # A body a proxy exchange or a handler may take as it arrives.
                    if self.ctx.app.upstream_specs and self._proxy_at_head(event):  # type: ignore[arg-type]
                        return
                    if self._handler_at_head(event):  # type: ignore[arg-type]
                        return
                if event.expect_continue:  # type: ignore[union-attr]
                    self._continue()
            elif kind is Data:
                self._add_body(event.data)  # type: ignore[union-attr]
            elif kind is EndOfMessage:
                self._dispatch()
            else:
                if event is NEED_DATA:
                    if self._peer_done:
                        self._drain()  # the peer has sent all it will send
                    elif self.ctx.crowded and parser.at_rest:
                        self._rest_parser(parser)  # many connections: hold none while idle
                return  # NEED_DATA, or PAUSED

    def _rest_parser(self, parser: RequestParser) -> None:
        """Between requests with nothing buffered: give the parser back for reuse, and
        the (empty) lists of queued output and files."""
        self.parser = RESTING
        if not self._files:
            self._files = None
        shed = getattr(self.transport, "shed", None)
        if shed is not None:
            shed()
        spares = self.ctx.parsers
        if (
            len(spares) < SPARE_PARSERS
            and type(parser) is LimitedParser
            and parser.limits is self.ctx.parser_limits
        ):
            spares.append(parser)

    def _yield_turn(self) -> None:
        """Let the other connections have the loop: go on after them (call_soon)."""
        self.state = HELD
        self.transport.pause_reading()
        self.ctx.loop.call_soon(self._next_turn)

    def _next_turn(self) -> None:
        if self.state is HELD:  # else closed meanwhile, or a drained backlog resumed it
            self._resume()

    def _add_body(self, data: bytes) -> None:
        """Keep a piece of the request body; 408 when it arrives too slowly."""
        body = self._body
        if body is None:
            body = self._body = BodyReader(self._started, self.ctx.bodies)
        try:
            body.add(data, self.ctx.loop.now, self.ctx.app.config.server)
            if self._limit and body.size > self._limit:
                raise too_large(self._limit)
        except HTTPError as exc:  # 408 too slow, 503 over the body budget
            self._error_answer(exc, self._head)  # the state leaves READING: _process stops

    def _over_route_limit(self, head: RequestHead) -> bool:
        """Some route has its own max_body_bytes: hold this body to its route's limit;
        True when its Content-Length is over it already (413 sent)."""
        if not (head.chunked or head.content_length):
            return False
        self._limit = limit = body_limit_at_head(self.ctx, head, self.client)
        if head.content_length and head.content_length > limit:
            self._error_answer(too_large(limit), head)
            return True
        return False

    def _continue(self) -> None:
        """Expect: 100-continue. The next event says whether the body is welcome: a body
        over the limit gets its 413 without a 100 before it (the parser may raise that on
        the event after the head); otherwise 100 Continue goes out, then the event."""
        try:
            event = self.parser.next_event()
        except ProtocolError as exc:
            self._error_answer(exc, getattr(exc, "head", None) or self._head)
            return
        self.transport.write(CONTINUE)
        if type(event) is Data:
            self._add_body(event.data)
        elif type(event) is EndOfMessage:
            self._dispatch()
        # NEED_DATA: the loop asks again and gets it again.

    def _dispatch(self) -> None:
        head = self._head
        assert head is not None
        self._head = None
        body = self._body.take() if self._body is not None else b""
        self._body = None
        self._answer(head, body, True)
