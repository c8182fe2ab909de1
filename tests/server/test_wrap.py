"""The seam a TLS layer uses: Server.wrap_protocol puts a layer between the socket transport
and HTTP, a Protocol toward the socket and a Transport toward the HttpProtocol. A pass-through
layer that records what it carries stands in for ssl.SSLObject here."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.server.transport import Protocol, Transport

SITE = """
    [server]
    access_log = "off"

    [[route]]
    path = "/hi"
    respond = { status = 200, body = "hi" }
"""


class Tap(Protocol, Transport):
    """Passes everything through, keeping a copy of both directions."""

    def __init__(self, inner: Protocol) -> None:
        self.inner = inner
        self.received = bytearray()
        self.sent = bytearray()

    # toward the socket transport
    def connection_made(self, transport: Transport) -> None:
        self.outer = transport
        self.loop = transport.loop
        self.inner.connection_made(self)

    def data_received(self, data: bytes) -> None:
        self.received += data
        self.inner.data_received(data)

    def eof_received(self) -> None:
        self.inner.eof_received()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # toward HTTP
    @property
    def progress_at(self) -> float:  # type: ignore[override]
        return self.outer.progress_at

    def write(self, data: bytes | memoryview) -> None:
        self.sent += data
        self.outer.write(data)

    def write_file(self, fd: int, offset: int, count: int, done: Any) -> None:
        self.outer.write_file(fd, offset, count, done)

    def cork(self) -> None:
        self.outer.cork()

    def uncork(self) -> None:
        self.outer.uncork()

    def pause_reading(self) -> None:
        self.outer.pause_reading()

    def resume_reading(self) -> None:
        self.outer.resume_reading()

    def is_reading(self) -> bool:
        return self.outer.is_reading()

    def close(self) -> None:
        self.outer.close()

    def abort(self) -> None:
        self.outer.abort()

    def is_closing(self) -> bool:
        return self.outer.is_closing()

    def get_write_buffer_size(self) -> int:
        return self.outer.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        self.outer.set_write_buffer_limits(high, low)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.outer.get_extra_info(name, default)


def test_a_layer_between_socket_and_http_carries_every_byte(site) -> None:
    server = site(SITE)
    taps: list[tuple[str, Tap]] = []

    def wrap(address: str, protocol: Protocol) -> Protocol:
        tap = Tap(protocol)
        taps.append((address, tap))
        return tap

    server.server.wrap_protocol = wrap
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/hi").text == "hi"
        assert client.get("/hi").text == "hi"  # keep-alive through the layer
    [(address, tap)] = taps
    assert address == f"{server.host}:{server.port}"
    assert tap.received.count(b"GET /hi HTTP/1.1\r\n") == 2
    assert tap.sent.count(b"HTTP/1.1 200 OK\r\n") == 2
