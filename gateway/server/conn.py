"""Conn: one client connection on the loop. It feeds received bytes to the sans-IO parser,
hands each complete request to the app and queues the responses strictly in request order
(pipelining); Outbox (output.py) writes them. Deadlines and read interest live here."""

from __future__ import annotations

import collections
import logging
import selectors
import socket
from typing import TYPE_CHECKING, Any

from gateway.errors import HTTPError, ProtocolError
from gateway.http.events import NEED_DATA, Data, EndOfMessage, RequestHead
from gateway.http.parser import RequestParser
from gateway.http.writer import CONTINUE, Framing
from gateway.request import Request, build_request
from gateway.response import FileBody, PushBody, Response
from gateway.server.output import Outbox, OutItem, StreamBody

if TYPE_CHECKING:
    from gateway.server.serve import Server

log = logging.getLogger("gateway.server")

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
RECV_SIZE = 65536
COALESCE_LIMIT = 65536  # bodies up to this size go out in the same send as their head
HIGH_WATER = 1 << 20  # stop reading new requests while this much output waits
# File bodies queued on one connection before it stops taking pipelined requests: each holds
# an open fd (or a reference that keeps an evicted cached one open) until it is sent.
MAX_QUEUED_FILES = 8


class Conn(Outbox):
    """One client connection: parses what arrives, dispatches each complete request in
    order (pausing while its handler runs in the pool), queues the answers, and keeps one
    deadline for whichever timeout applies now."""

    __slots__ = (
        "_body",
        "_head",
        "_held",
        "_mask",
        "_pending_id",
        "client",
        "close_after_write",
        "parser",
        "read_closed",
        "waiting",
    )

    def __init__(self, server: Server, sock: socket.socket, client: tuple[str, int]) -> None:
        self.server = server
        self.sock = sock
        self.client = client
        self.parser = RequestParser(**server.parser_limits)
        self._out: collections.deque[OutItem] = collections.deque()
        self._out_bytes = 0
        self._out_files = 0  # FileBody items in _out
        self._held = False  # complete requests wait in the parser until the output drains
        self._head: RequestHead | None = None
        self._body: list[bytes] = []
        self._pending_id = 0
        self._push_wait = False  # output is blocked on a PushBody that has nothing yet
        self.waiting: Any = None  # the request whose handler runs in the pool
        self.close_after_write = False
        self.read_closed = False
        self.deadline = server.loop.now + server.timeouts.header
        self._mask = READ
        server.loop.selector.register(sock, READ, self.on_ready)

    # -- events from the loop -------------------------------------------------------------

    def on_ready(self, mask: int) -> None:
        if mask & READ:
            self.on_readable()
        if mask & WRITE and self.sock.fileno() >= 0:
            self.flush()
            self._update_interest()

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if not data:
            self._on_peer_closed()
            return
        was_idle = not self.parser.in_message
        self.parser.feed(data)
        timeouts = self.server.timeouts
        if was_idle and self.parser.in_message:
            # The header clock starts at a request's first byte; stray CRLFs (which the
            # parser skips) must not restart it, or they would keep a connection forever.
            self.deadline = self.server.loop.now + timeouts.header
        elif self._head is not None:
            self.deadline = self.server.loop.now + timeouts.body
        self.process()
        self.flush()
        self._update_interest()

    def _on_peer_closed(self) -> None:
        self.read_closed = True
        if self.waiting is None and not self._out and not self._held:
            self.close()
            return
        # Answer what was asked, then close; there is nothing more to read. Requests held
        # back by the backlog are still answered: process() closes after the last one.
        if not self._held:
            self.close_after_write = True
        self._update_interest()

    def on_timeout(self) -> None:
        """The deadline passed: answer 504 for a stuck handler, 408 for a slow request,
        and close quietly an idle or stalled connection."""
        if self.waiting is not None:
            request, call, _keep_alive = self.waiting
            self.waiting = None
            self._pending_id += 1  # the late result will be dropped
            log.error(
                "handler timed out: request %s %s %s", request.id, request.method, request.path
            )
            self.send_response(request, call.timeout_response(), keep_alive=False)
            self.flush()
            self._update_interest()
        elif self.parser.in_message and not self._out:
            self.close_after_write = True
            self._send_error_head(HTTPError(408, "request timeout"))
            self.flush()
            self.close()
        else:
            self.close()

    # -- requests -------------------------------------------------------------------------

    def process(self) -> None:
        """Parse and dispatch every complete request in the buffer, in order, until one
        has to wait for the handler pool."""
        parser = self.parser
        while self.waiting is None and not self.close_after_write:
            if self._out_files >= MAX_QUEUED_FILES or self._out_bytes > HIGH_WATER:
                self._held = True  # flush() resumes once the output drains
                return
            try:
                event = parser.next_event()
            except ProtocolError as exc:
                self._send_error_head(exc)
                return
            kind = type(event)
            if kind is RequestHead:
                self._head = event  # type: ignore[assignment]
                self._body = []
                if event.expect_continue:  # type: ignore[union-attr]
                    self._queue(CONTINUE)
                self.deadline = self.server.loop.now + self.server.timeouts.body
            elif kind is Data:
                self._body.append(event.data)  # type: ignore[union-attr]
            elif kind is EndOfMessage:
                self._dispatch()
            else:
                if self.read_closed and event is NEED_DATA:
                    self.close_after_write = True  # the peer has sent all it will send
                return  # NEED_DATA, or PAUSED until a pooled response comes back

    def _dispatch(self) -> None:
        head = self._head
        assert head is not None
        self._head = None
        body = b"".join(self._body) if self._body else b""
        self._body = []
        server = self.server
        app = server.app
        try:
            request = build_request(head, body, self.client, server.next_request_id())
        except HTTPError as exc:
            self.parser.start_next()
            self.close_after_write = True
            self._send_error_head(exc)
            return
        result = app.handle(request)
        self.parser.start_next()
        keep_alive = head.keep_alive
        if isinstance(result, Response):
            self.send_response(request, result, keep_alive)
            return
        self._pending_id += 1
        token = self._pending_id
        if not server.pool.submit(
            result.run, lambda response: self._on_handler_done(token, response)
        ):
            self.send_response(request, result.busy_response(), keep_alive)
            return
        self.waiting = (request, result, keep_alive)
        self.deadline = server.loop.now + server.timeouts.handler

    def _on_handler_done(self, token: int, response: Response | None) -> None:
        if token != self._pending_id or self.waiting is None or self.sock.fileno() < 0:
            if response is not None:
                response.close()  # the request timed out or the client left
            return
        request, call, keep_alive = self.waiting
        self.waiting = None
        if response is None:
            response = call.error_response()
        self.send_response(request, response, keep_alive)
        self.process()  # pipelined requests that arrived meanwhile
        self.flush()
        self._update_interest()

    def send_response(self, request: Request, response: Response, keep_alive: bool) -> None:
        """Queue `response` for `request` behind everything queued before it."""
        server = self.server
        keep_alive = keep_alive and not self.close_after_write and not server.shutting_down
        # Output is pending now: the write timeout applies until flush() drains it (then idle).
        self.deadline = server.loop.now + server.timeouts.write
        response, head, framing = self._encode_head(request, response, keep_alive)
        body = response.body
        if not keep_alive or framing is Framing.CLOSE:
            self.close_after_write = True
        length = (
            len(body)
            if type(body) is bytes
            else (body.length if isinstance(body, FileBody) else None)
        )
        server.access_log(request, response.status, length, self.client)
        if framing is Framing.NONE:
            response.close()
            self._queue(head)
        elif type(body) is bytes:
            if len(body) <= COALESCE_LIMIT:
                self._queue(head + body)
            else:
                self._queue(head)
                self._queue(body)
        elif isinstance(body, (FileBody, PushBody)):
            if isinstance(body, PushBody):
                body.chunked = framing is Framing.CHUNKED
            self._queue(head)
            self._queue(body)
        else:
            self._queue(head)
            self._queue(StreamBody(iter(body), framing is Framing.CHUNKED))  # type: ignore[arg-type]

    def _encode_head(
        self, request: Request, response: Response, keep_alive: bool
    ) -> tuple[Response, bytes, Framing]:
        """The head bytes for `response`; a response that cannot be written (a header with
        CR/LF, a bad status) is replaced by a plain 500, never sent half-checked."""
        body = response.body
        if type(body) is bytes:
            length: int | None = len(body)
        elif isinstance(body, FileBody):
            length = body.length
        else:  # iterators and PushBody: length unknown, chunked
            length = None
        writer = self.server.writer
        head_request = request.method == "HEAD"
        version = request.http_version
        try:
            head, framing = writer.head(
                response.status,
                response.headers,
                content_length=length,
                keep_alive=keep_alive,
                http_version=version,
                head_request=head_request,
            )
        except (ValueError, TypeError) as exc:  # HeaderError, a bad status
            log.error("request %s: response cannot be written: %s", request.id, exc)
            response.close()
            response = Response(500, b"internal server error\n", content_type="text/plain")
            head, framing = writer.head(
                500,
                response.headers,
                content_length=22,
                keep_alive=keep_alive,
                http_version=version,
                head_request=head_request,
            )
        return response, head, framing

    def _send_error_head(self, exc: HTTPError) -> None:
        """Answer a request we could not read; its framing is lost, so close after."""
        self.close_after_write = True
        request = None
        request_head = getattr(exc, "head", None) or self._head
        if request_head is not None:
            try:
                request = build_request(
                    request_head, b"", self.client, self.server.next_request_id()
                )
            except HTTPError:
                request = None
        response = self.server.app.protocol_error_response(exc, request)
        body = response.body
        assert isinstance(body, bytes)
        head, _ = self.server.writer.head(
            response.status, response.headers, content_length=len(body), keep_alive=False
        )
        self._queue(head + body)
        self.server.access_log(request, response.status, len(body), self.client)

    # -- output ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write as much queued output as the socket takes without blocking."""
        out = self._out
        sock = self.sock
        wrote = bool(out)
        while True:
            while out:
                item = out[0]
                if isinstance(item, (bytes, memoryview)):
                    if not self._send_bytes(item):
                        return
                elif isinstance(item, FileBody):
                    if not self._send_file(item):
                        return
                elif isinstance(item, PushBody):
                    if not self._take_pushed(item):
                        return
                elif not self._pull_stream(item):
                    return
                if sock.fileno() < 0:
                    return
            if not self._held or self.waiting is not None:
                break
            self._held = False
            self.process()  # the pipelined requests that waited for the output to drain
            if not out:
                break
        if wrote and self.waiting is None and not self._out:
            # A response just finished: idle from now, or the header clock for a pipelined
            # request already begun. (Only then: a flush with nothing to send must not
            # extend the deadline of a quiet client.)
            timeouts = self.server.timeouts
            wait = timeouts.header if self.parser.in_message else timeouts.idle
            self.deadline = self.server.loop.now + wait
        if self.close_after_write and self.waiting is None:
            self.close()

    def _update_interest(self) -> None:
        if self.sock.fileno() < 0:
            return
        mask = 0
        if self._out and not self._push_wait:
            mask |= WRITE
        if not (
            self.read_closed
            or self.close_after_write
            or self.waiting is not None
            or self._held
            or self._out_bytes > HIGH_WATER
        ):
            mask |= READ
        if mask != self._mask:
            selector = self.server.loop.selector
            if mask == 0:
                selector.unregister(self.sock)
            elif self._mask == 0:
                selector.register(self.sock, mask, self.on_ready)
            else:
                selector.modify(self.sock, mask, self.on_ready)
            self._mask = mask

    @property
    def idle(self) -> bool:
        return not self._out and self.waiting is None and not self.parser.in_message

    def close(self) -> None:
        if self.sock.fileno() < 0:
            return
        if self._mask:
            self.server.loop.selector.unregister(self.sock)
            self._mask = 0
        for item in self._out:
            if isinstance(item, (FileBody, StreamBody, PushBody)):
                item.close()
        self._out.clear()
        if self.waiting is not None:
            self._pending_id += 1
            self.waiting = None
        self.sock.close()
        self.server.forget(self)
