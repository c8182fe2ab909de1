"""The interfaces the proxy codes against, as typing Protocols: the loop and transport of
gateway.server.transport (PLAN.md names), the response parser of gateway.http.response, and
Downstream, the client side of a proxied request that the HTTP server protocol implements."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.http.headers import Headers

Fields = list[tuple[str, str]]
Address = tuple[str, int] | str


class TimerLike(Protocol):
    def cancel(self) -> None: ...


class TransportLike(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_reading(self) -> bool: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def is_closing(self) -> bool: ...
    def get_write_buffer_size(self) -> int: ...
    def set_protocol(self, protocol: Any) -> None: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, not FIN


def abort_with_reset(transport: TransportLike) -> None:
    """Abort an answer that cannot be finished, with a TCP reset: a body that ends at the
    close (an HTTP/1.0 client, length unknown) would look whole after a plain close. Used
    by the proxy's responder and by the server's streamed answers."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    transport.abort()


class LoopLike(Protocol):
    now: float

    def call_soon(self, callback: Callable[[], None]) -> None: ...
    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerLike: ...
    def connect(self, address: Address, protocol_factory: Callable[[], Any]) -> Any: ...


class ResponseHeadLike(Protocol):
    status: int
    reason: str
    http_version: str
    headers: Headers
    content_length: int | None
    chunked: bool
    close_delimited: bool
    keep_alive: bool


class ParserLike(Protocol):
    def expect(self, method: str) -> None: ...
    def feed(self, data: bytes) -> None: ...
    def feed_eof(self) -> None: ...
    def next_event(self) -> object: ...
    def start_next(self) -> None: ...
    def trailing_data(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a proxied request got no answer from the upstream: `status` 502, 503 or 504,
    `detail` the text for the client and the log (names the upstream server and what
    failed), `retry_after` seconds for a 503."""

    status: int
    detail: str
    server: str = ""
    retry_after: int | None = None


class Downstream(Protocol):
    """The client side of one proxied request, implemented by the HTTP server protocol.
    The exchange calls these in order: any informational(), then start_response(), any
    response_data(), end_response(); or fail() before start_response; or abort() after it;
    or, for a 101 answer, switch() which hands over the client connection."""

    # Whether the client connection stays open after the response. The exchange sets it
    # False before the head for an early answer (the request body not all sent up).
    keep_alive: bool

    def pause_body(self) -> None:
        """Stop reading the client's request body: the upstream is not taking it."""

    def resume_body(self) -> None: ...

    def informational(self, status: int, fields: Fields) -> None:
        """A 100 or 103 from the upstream, to pass on (HTTP/1.1 clients only)."""

    def start_response(self, status: int, reason: str, fields: Fields) -> None:
        """The response head. `fields` keep the upstream's Content-Length when it sent one
        (a HEAD or 304 answer has it without a body); otherwise the writer frames the body
        (chunked for HTTP/1.1 clients, close-delimited for HTTP/1.0)."""

    def response_data(self, data: bytes) -> None: ...

    def end_response(self, trailers: Fields | None) -> None: ...

    def fail(self, failure: Failure) -> None:
        """No response came: answer failure.status with its detail (and Retry-After)."""

    def abort(self, failure: Failure) -> None:
        """The upstream failed mid-response: close the client connection without ending
        the body, so the client sees a truncated response, never a complete wrong one."""

    def switch(self, status: int, reason: str, fields: Fields) -> tuple[TransportLike, bytes]:
        """Write the 101 head and give up the client connection for a byte tunnel: return
        its transport (the caller sets the tunnel as its protocol) and any bytes the client
        sent after the request head that the server's parser still holds."""
        ...
