"""Transport and Protocol: one socket on the loop, and what drives it. The transport owns the
socket and its selector registration (write, sendfile, buffering, pause/resume reading,
close) and knows nothing of HTTP; a protocol gets bytes and events. asyncio's names. This
module is the interface; SocketTransport (server/sockets.py) implements it on a socket."""

from __future__ import annotations

import selectors
from collections.abc import Callable
from typing import Any
from typing import Protocol as Interface

FileDone = Callable[[bool], None]


class LoopLike(Interface):
    """What a transport needs of the loop (gateway.server.loop.Loop is one)."""

    selector: selectors.BaseSelector
    now: float
    send_calls: int

    def call_soon(self, callback: Callable[[], None]) -> None: ...


class Protocol:
    """What a transport drives. Every method has a do-nothing default, so a protocol
    overrides only what it cares about. All calls come on the loop thread."""

    def connection_made(self, transport: Transport) -> None:
        """The connection is up; keep `transport` to write to it."""

    def data_received(self, data: bytes) -> None:
        """Bytes arrived. Writes made during this call are held and sent together when it
        returns, so pipelined answers leave in one send."""

    def eof_received(self) -> None:
        """The peer shut its write side. Reading stops; the protocol decides when to close."""

    def connection_lost(self, exc: BaseException | None) -> None:
        """The connection is closed (exc: why, or None for an orderly close). Called once,
        soon after the socket closed (never from inside close() or abort() themselves)."""

    def pause_writing(self) -> None:
        """The transport's write buffer went above its high-water mark: stop producing."""

    def resume_writing(self) -> None:
        """... and drained to its low-water mark: produce again."""


class Transport:
    """One connection on the loop, as a protocol sees it. The methods every transport has
    (server/sockets.py's SocketTransport is one; a TLS layer is another)."""

    loop: Any  # the Loop it runs on
    # Loop time of the last write that moved bytes to the peer: write timeouts are measured
    # from it (a TLS layer reports its socket transport's).
    progress_at: float = 0.0

    def write(self, data: bytes | memoryview) -> None:
        """Queue bytes; they go out in order with everything written before."""
        raise NotImplementedError

    def write_file(self, fd: int, offset: int, count: int, done: FileDone | None) -> None:
        """Queue `count` bytes of the open file `fd` from `offset`, in order with writes.
        The caller keeps the fd open until `done(ok)`: ok is True once every byte went
        out, False when the connection closed first. The transport never closes the fd."""
        raise NotImplementedError

    def cork(self) -> None:
        """Hold writes until the matching uncork() (nestable), so they leave together.
        (An extension to asyncio's interface; a transport may make it a no-op.)"""

    def uncork(self) -> None:
        """Send what cork() held."""

    def pause_reading(self) -> None:
        raise NotImplementedError

    def resume_reading(self) -> None:
        raise NotImplementedError

    def is_reading(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        """Stop reading, send what is queued, then close. connection_lost(None) follows."""
        raise NotImplementedError

    def abort(self) -> None:
        """Close now, dropping queued output. connection_lost(None) follows."""
        raise NotImplementedError

    def is_closing(self) -> bool:
        raise NotImplementedError

    def get_write_buffer_size(self) -> int:
        """Bytes queued and not yet sent. Queued files are not counted (as asyncio's
        sendfile is not): whoever queues files bounds how many it queues."""
        raise NotImplementedError

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        raise NotImplementedError

    def get_protocol(self) -> Protocol:
        raise NotImplementedError

    def set_protocol(self, protocol: Protocol) -> None:
        """Hand the connection to another protocol (after 101 Switching Protocols, or a TLS
        layer stepping in). The new one gets no connection_made: it is handed over live."""
        raise NotImplementedError

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """ "peername", "sockname", "socket", "ssl_object" (None on plain TCP)."""
        raise NotImplementedError
