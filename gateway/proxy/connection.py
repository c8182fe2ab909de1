"""UpstreamConnection: the HTTP/1.1 client protocol on one connection to one upstream server.
It feeds the response parser and hands each event to the exchange using it (its listener);
between requests it sits in the pool with no listener, where any byte or EOF from the server
means the connection is no longer usable."""

from __future__ import annotations

import enum
from typing import Any, Protocol

from gateway.errors import ProtocolError
from gateway.http.events import Data, EndOfMessage, ResponseHead, Sentinel
from gateway.proxy.seams import ParserLike, ResponseHeadLike, TransportLike
from gateway.proxy.spec import ServerAddress


class State(enum.Enum):
    CONNECTING = "connecting"
    IDLE = "idle"  # connected, no request (in the pool)
    BUSY = "busy"  # a request is in flight
    SWITCHED = "switched"  # handed to a tunnel after 101
    CLOSED = "closed"


class Listener(Protocol):
    """What a connection reports to the exchange that is using it."""

    def on_connected(self) -> None: ...
    def on_head(self, head: ResponseHeadLike) -> None: ...
    def on_data(self, data: bytes) -> None: ...
    def on_end(self, trailers: list[tuple[str, str]] | None) -> None: ...
    def on_broken(self, what: str, bad_response: bool = False) -> None: ...
    # A listener whose class sets `takes_whole = True` also has on_whole(head, body): a
    # whole response in one read, instead of on_head, on_data and on_end.
    def on_upstream_full(self) -> None: ...
    def on_upstream_drained(self) -> None: ...


class UpstreamConnection:
    """One connection. `begin(listener, method)` starts a request on it, `finish()` ends it
    (True when it can be reused). `reused` says the current request is not its first,
    which is what makes a failure before any response byte worth one retry."""

    def __init__(self, server: ServerAddress, parser: ParserLike) -> None:
        self.server = server
        self.parser = parser
        # The parser's one-step read of a response that came whole in one recv (the
        # common case of a small answer), when it has one; the general events otherwise.
        self._read_whole = getattr(parser, "read_whole", None)
        self._whole = False  # the current listener takes on_whole
        self.transport: TransportLike | None = None
        self.dialing: TransportLike | None = None  # from Loop.connect, until connection_made
        self.state = State.CONNECTING
        self.listener: Listener | None = None
        self.requests = 0
        self.response_bytes = 0  # received for the current request
        self.idle_since = 0.0
        self.eof = False  # the server shut its side: no request can follow
        # The client side of the current request (the Responder), corked while one read's
        # events are relayed, so a response's head, body and end leave in one send.
        self.hold: Any = None

    @property
    def reused(self) -> bool:
        return self.requests > 1

    def begin(self, listener: Listener, method: str, hold: Any = None) -> None:
        self.listener = listener
        self.hold = hold if hasattr(hold, "cork") else None
        self._whole = self._read_whole is not None and getattr(listener, "takes_whole", False)
        self.requests += 1
        self.response_bytes = 0
        self.parser.expect(method)
        if self.state is State.IDLE:
            self.state = State.BUSY

    def finish(self, now: float, reusable: bool) -> bool:
        """Detach the listener after a complete response; True when it may serve another
        (the caller's `reusable`: keep-alive and the request all sent)."""
        self.listener = self.hold = None
        # Bytes past the end of the response (more than its Content-Length) would be read
        # as the start of the next response: such a connection is never reused.
        if not reusable or self.state is not State.BUSY or self.eof or self.parser.trailing_data():
            self.close()
            return False
        self.state = State.IDLE
        self.idle_since = now
        self.parser.start_next()
        return True

    def write(self, data: bytes) -> None:
        if self.transport is not None and data:
            self.transport.write(data)

    def close(self) -> None:
        self.listener = None
        if self.state is not State.SWITCHED:
            self.state = State.CLOSED
        transport = self.transport or self.dialing
        if transport is not None and not transport.is_closing():
            transport.abort()

    # -- the transport's calls ------------------------------------------------------------

    def connection_made(self, transport: TransportLike) -> None:
        self.transport = transport
        self.state = State.BUSY if self.listener is not None else State.IDLE
        if self.listener is not None:
            self.listener.on_connected()

    def data_received(self, data: bytes) -> None:
        listener = self.listener
        if listener is None:
            self.close()  # bytes nobody asked for: the next response could not be trusted
            return
        if self._whole and not self.response_bytes:
            whole = self._read_whole(data)  # type: ignore[misc]
            if whole is not None:
                self.response_bytes = len(data)
                listener.on_whole(*whole)  # type: ignore[attr-defined]
                return
        self.response_bytes += len(data)
        self.parser.feed(data)
        hold = self.hold
        if hold is None:
            self._events()
            return
        hold.cork()
        try:
            self._events()
        finally:
            hold.uncork()

    def eof_received(self) -> None:
        self.eof = True
        if self.listener is None:
            self.close()
            return
        try:
            self.parser.feed_eof()  # ends a close-delimited body
        except ProtocolError:
            self._broken(self._lost_text())
            return
        self._events()
        if self.listener is not None:  # the response did not end with it
            self._broken("closed the connection mid-response" if self.response_bytes else "")

    def connection_lost(self, exc: BaseException | None) -> None:
        listener = self.listener
        self.state = State.CLOSED
        if listener is not None:
            self.listener = None
            if self.transport is None:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                listener.on_broken(f"cannot connect: {(reason or 'refused').lower()}")
            else:
                listener.on_broken(self._lost_text())

    def pause_writing(self) -> None:
        if self.listener is not None:
            self.listener.on_upstream_full()

    def resume_writing(self) -> None:
        if self.listener is not None:
            self.listener.on_upstream_drained()

    def relay_events(self) -> None:
        """Hand the listener what the parser has now (after a body went around it)."""
        self._events()

    # -- events ---------------------------------------------------------------------------

    def _events(self) -> None:
        try:
            next_event = self.parser.next_event
            while (listener := self.listener) is not None:
                event = next_event()
                kind = type(event)
                if kind is Data:
                    listener.on_data(event.data)  # type: ignore[attr-defined]
                elif kind is EndOfMessage:
                    trailers = event.trailers  # type: ignore[attr-defined]
                    listener.on_end(trailers.items() if trailers is not None else None)
                elif kind is ResponseHead or not isinstance(event, Sentinel):
                    listener.on_head(event)  # type: ignore[arg-type]
                else:
                    return
        except ProtocolError as error:
            if self.eof:  # the parser's word for a body cut short by the close
                self._broken(self._lost_text())
            else:
                self._broken(f"sent a malformed response: {error.detail or error}", bad=True)

    def _broken(self, what: str, bad: bool = False) -> None:
        listener = self.listener
        self.close()
        if listener is not None:
            listener.on_broken(what or self._lost_text(), bad)

    def _lost_text(self) -> str:
        if self.response_bytes:
            return "closed the connection mid-response"
        return "closed the connection before responding"
