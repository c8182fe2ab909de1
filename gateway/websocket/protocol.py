"""WebSocketProtocol: the Protocol that takes a connection's transport after the upgrade and
bridges wsproto (all framing, masking, UTF-8 checks) to an async handler on the worker's
async loop: 101 on accept, messages assembled under a size limit, ping/pong keep-alive,
backpressure both ways, and the closing handshake with a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from gateway.websocket.api import Close, WebSocket, WebSocketClosed
from gateway.websocket.handshake import Handshake

log = logging.getLogger("gateway.websocket")

Handler = Callable[[WebSocket], Awaitable[Any]]
CallSoon = Callable[[Callable[[], None]], None]

_REJECT = {
    403: b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    500: b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Per-route limits (`websocket = { ... }`), with defaults like the websockets library's."""

    max_message_bytes: int = 1 << 20  # a bigger message closes with 1009
    ping_interval: float | None = 20.0  # None: no keep-alive pings
    ping_timeout: float = 20.0  # no pong in this long: close 1011 and drop the connection
    send_buffer_bytes: int = 256 * 1024  # handler sends beyond this wait for the client
    receive_buffer_bytes: int = 1 << 20  # unread messages beyond this pause reading
    close_timeout: float = 5.0  # wait this long for the peer's close frame, then drop
    pre_accept_bytes: int = 64 * 1024  # bytes a client may send before the 101 (should be 0)


class _State(enum.Enum):
    PENDING = "pending"  # upgrade checked; the handler has not accepted yet
    OPEN = "open"
    CLOSING = "closing"  # we sent a close frame; waiting for the peer's
    CLOSED = "closed"


class WebSocketProtocol:
    """Installed with transport.set_protocol(p) and then p.start(transport, trailing_bytes).
    Everything here runs on the server loop's thread; the handler runs on `runner`'s."""

    def __init__(
        self,
        handler: Handler,
        request: Any,
        handshake: Handshake,
        runner: Any,  # gateway.aio.AsyncRunner
        server_call_soon: CallSoon,  # the server Loop's call_soon_threadsafe
        settings: Settings = Settings(),
        on_closed: Callable[[WebSocketProtocol], None] | None = None,
        sent_101: bool = False,
        subprotocol: str | None = None,
    ) -> None:
        self.handler = handler
        self.handshake = handshake
        self.settings = settings
        self._runner = runner
        self._on_closed = on_closed
        self.transport: Any = None
        self.state = _State.PENDING
        self.close_reason: Close | None = None
        self._conn = Connection(ConnectionType.SERVER)
        self._early = bytearray()  # bytes before the 101
        self._pieces = bytearray()  # the message being received, so far (text as UTF-8)
        self._size = 0
        self._unread = 0  # delivered to the handler, not yet received by it
        self._paused_reading = False  # the handler is behind on messages
        self._write_paused = False  # the transport is above its high-water mark
        self._timers: dict[str, Any] = {}
        self._pings = 0
        self._job: Any = None
        self._handler_running = False
        self.ws = WebSocket(self, request, server_call_soon, settings.send_buffer_bytes)
        self._server_call_soon = server_call_soon
        # sent_101: the server already wrote the 101 (gateway.response.Switch) with
        # `subprotocol`; accept() is then a no-op and a refusal is no longer possible.
        self._sent_101 = sent_101
        if sent_101:
            self.ws._accepted = True
            self.ws.subprotocol = subprotocol

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, transport: Any, trailing: bytes = b"") -> None:
        """Take over `transport` and start the handler. Unless `sent_101`, the 101 goes out
        when the handler accepts (a handler that returns first answers 403)."""
        self.transport = transport
        if self._sent_101:
            self.state = _State.OPEN
            self._schedule_ping()
        self._handler_running = True
        self._job = self._runner.submit(lambda: self.handler(self.ws), None, self._handler_done)
        if trailing:
            self.data_received(trailing)

    def connection_made(self, transport: Any) -> None:
        """The Switch path: the server wrote the 101 and hands the transport over."""
        if self.transport is None:
            self.start(transport)

    def _handler_done(self, _result: Any, exc: BaseException | None) -> None:
        # On the async loop's thread.
        with contextlib.suppress(RuntimeError):
            self._server_call_soon(lambda: self._after_handler(exc))

    def _after_handler(self, exc: BaseException | None) -> None:
        self._handler_running = False
        if isinstance(exc, WebSocketClosed) and exc.close is self.close_reason:
            # send() or receive() on this connection after it closed, let escape: the
            # client left (as uvicorn takes ClientDisconnected), no server error.
            log.debug("websocket handler ended by its closed connection: %s", exc)
            exc = None
        failed = exc is not None and not isinstance(exc, asyncio.CancelledError)
        if failed:
            assert exc is not None
            log.error(
                "websocket handler %s raised",
                getattr(self.handler, "__qualname__", self.handler),
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        if self.state is _State.PENDING:
            self._reject(500 if failed else 403)
        elif self.state is _State.OPEN:
            self._start_close(1011 if failed else 1000, "internal error" if failed else "")

    def _reject(self, status: int) -> None:
        self.transport.write(_REJECT[status])
        self._finish(Close(1006, f"rejected with {status}"))
        self.transport.close()

    # -- transport events -------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.state is _State.CLOSED:
            return
        if self.state is _State.PENDING:
            self._early += data
            if len(self._early) > self.settings.pre_accept_bytes:
                self._finish(Close(1006, "client sent data before the handshake finished"))
                self.transport.abort()
            return
        self._conn.receive_data(data)
        self._process()

    def eof_received(self) -> None:
        self._finish(Close(1006, "connection closed without a close frame"))
        self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._finish(Close(1006, "connection lost" if exc is None else f"connection lost: {exc}"))

    def pause_writing(self) -> None:
        # Each ping asks for a pong: a client that sends and never reads would have us queue
        # answers without end, so nothing more is read until what we wrote drains.
        self._write_paused = True
        if self.transport is not None and self.state is not _State.CLOSED:
            self.transport.pause_reading()
        self._to_ws(self.ws._set_writable, False)

    def resume_writing(self) -> None:
        self._write_paused = False
        if self.transport is not None and self.state is not _State.CLOSED:
            self._process()  # the frames left parsed-but-unanswered when writes paused
        if not self._paused_reading and self.state is not _State.CLOSED:
            self.transport.resume_reading()
        self._to_ws(self.ws._set_writable, True)

    # -- calls from the handler (hopped onto this thread) -----------------------------------

    def accept(self, subprotocol: str | None) -> None:
        if self.state is not _State.PENDING:
            return
        try:
            head = self.handshake.response_head(subprotocol)
        except ValueError as exc:
            log.error("websocket accept failed: %s", exc)
            self._reject(500)
            return
        self.transport.write(head)
        self.state = _State.OPEN
        self._schedule_ping()
        if self._early:
            early, self._early = bytes(self._early), bytearray()
            self.data_received(early)

    def send_message(self, payload: str | bytes) -> None:
        if self.state is _State.OPEN and self._conn.state is ConnectionState.OPEN:
            event = (
                TextMessage(data=payload)
                if isinstance(payload, str)
                else BytesMessage(data=payload)
            )
            self.transport.write(self._conn.send(event))
        # Acknowledged even when dropped: the handler's buffer count must come back down.
        self._to_ws(self.ws._written, len(payload))

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.state is _State.PENDING:
            self._reject(403)
        elif self.state is _State.OPEN:
            self._start_close(code, reason)

    def consumed(self, size: int) -> None:
        self._unread -= size
        if self._paused_reading and self._unread <= self.settings.receive_buffer_bytes // 2:
            self._paused_reading = False
            if self.state is not _State.CLOSED and not self._write_paused:
                self.transport.resume_reading()

    def going_away(self, reason: str = "server going away") -> None:
        """Close with 1001 (shutdown, or a reload that changed the handler's module)."""
        self.close(1001, reason)

    # -- frames -----------------------------------------------------------------------------

    def _process(self) -> None:
        events = self._conn.events()
        # At the high-water mark, stop: wsproto parses frames lazily, one per event pulled,
        # so the rest wait in its buffer until resume_writing.
        while not (self._write_paused and self.state is _State.OPEN):
            event = next(events, None)
            if event is None or self.state is _State.CLOSED:
                return
            if isinstance(event, (TextMessage, BytesMessage)):
                self._on_data(event)
            elif isinstance(event, Ping):
                self.transport.write(self._conn.send(event.response()))
            elif isinstance(event, Pong):
                self._cancel("pong")
            elif isinstance(event, CloseConnection):
                self._on_close(event)

    def _on_data(self, event: TextMessage | BytesMessage) -> None:
        if self.state is not _State.OPEN:
            return  # we are closing: what the peer still sends is dropped (RFC 6455 §5.5.1)
        data = event.data
        raw = data.encode() if isinstance(data, str) else data
        self._size += len(raw)
        if self._size > self.settings.max_message_bytes:
            limit = self.settings.max_message_bytes
            self._fail(1009, f"message over {limit} bytes")
            return
        message: str | bytes
        if event.message_finished and not self._pieces:  # one frame (or empty ones before)
            message = data if isinstance(data, str) else bytes(data)
        else:
            # One growing buffer (text as the UTF-8 wsproto checked): a fragment costs only
            # its bytes, so endless empty ones cost nothing.
            self._pieces += raw
            if not event.message_finished:
                return
            whole, self._pieces = bytes(self._pieces), bytearray()
            message = whole.decode() if isinstance(data, str) else whole
        self._size = 0
        self._unread += len(message)
        self._to_ws(self.ws._deliver, message)
        if not self._paused_reading and self._unread > self.settings.receive_buffer_bytes:
            self._paused_reading = True  # the handler is not keeping up: stop reading
            self.transport.pause_reading()

    def _on_close(self, event: CloseConnection) -> None:
        reason = event.reason or ""
        if self._conn.state is ConnectionState.REMOTE_CLOSING:  # the peer starts: answer
            self.transport.write(self._conn.send(event.response()))
            self._finish(Close(event.code, reason))
            self.transport.close()
        elif self._conn.state is ConnectionState.CLOSED:  # the answer to our close
            self._finish(self.close_reason or Close(event.code, reason))
            self.transport.close()
        else:  # wsproto could not parse the stream (1002, bad UTF-8 1007, ...): fail it
            self._fail(event.code, reason)

    def _start_close(self, code: int, reason: str) -> None:
        self.state = _State.CLOSING
        self.close_reason = Close(code, reason)
        self._cancel("ping")
        self._cancel("pong")
        if self._conn.state is ConnectionState.OPEN:
            self.transport.write(self._conn.send(CloseConnection(code=code, reason=reason)))
        self._timer("close", self.settings.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._finish(self.close_reason or Close(1006, "no close frame from the peer"))
        self.transport.abort()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 §7.1.7): a close frame, then close the TCP without
        reading on, since what follows cannot be trusted."""
        if self._conn.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            self.transport.write(self._conn.send(CloseConnection(code=code, reason=reason)))
        self._finish(Close(code, reason))
        self.transport.close()

    def _finish(self, close: Close) -> None:
        if self.state is _State.CLOSED:
            return
        self.state = _State.CLOSED
        self.close_reason = close
        for name in list(self._timers):
            self._cancel(name)
        self._to_ws(self.ws._deliver, close)
        if self._handler_running and self.transport is not None:
            # The handler was told (receive() returns the Close); one that waits on
            # something else entirely is cancelled after the close timeout.
            self.transport.loop.call_later(self.settings.close_timeout, self._job.cancel)
        if self._on_closed is not None:
            self._on_closed(self)

    # -- keep-alive -------------------------------------------------------------------------

    def _schedule_ping(self) -> None:
        if self.settings.ping_interval is not None:
            self._timer("ping", self.settings.ping_interval, self._ping)

    def _ping(self) -> None:
        self._timers.pop("ping", None)
        if self.state is not _State.OPEN or self._conn.state is not ConnectionState.OPEN:
            return
        self._pings += 1
        self.transport.write(self._conn.send(Ping(payload=str(self._pings).encode())))
        if "pong" not in self._timers:
            self._timer("pong", self.settings.ping_timeout, self._pong_timed_out)
        self._schedule_ping()

    def _pong_timed_out(self) -> None:
        self._timers.pop("pong", None)
        if self._conn.state is ConnectionState.OPEN:
            self.transport.write(
                self._conn.send(CloseConnection(code=1011, reason="keepalive ping timeout"))
            )
        self._finish(Close(1011, "keepalive ping timeout"))
        self.transport.abort()

    def _timer(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._cancel(name)
        self._timers[name] = self.transport.loop.call_later(delay, callback)

    def _cancel(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _to_ws(self, method: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the async loop is stopped (shutdown)
            self._runner.call_soon(method, *args)
