"""Drive a WebSocketProtocol sans-IO: a fake transport and timer loop, the server loop's
call_soon as a queue the test runs, a real AsyncRunner for the handler, and a wsproto client
connection to speak to it (and a raw frame builder for what wsproto would refuse to send)."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Any

from wsproto.connection import Connection, ConnectionType
from wsproto.events import Event

from gateway.aio import AsyncRunner
from gateway.http.headers import Headers
from gateway.request import Request
from gateway.websocket import Settings, WebSocketProtocol, check_handshake
from tests.aio.support import FakeServerLoop

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


class Timer:
    def __init__(self, timers: Timers, delay: float, callback: Callable[[], None]) -> None:
        self.delay, self.callback, self.cancelled = delay, callback, False
        self._timers = timers

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    """The Loop's call_later, fired by hand."""

    def __init__(self) -> None:
        self.pending: list[Timer] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(self, delay, callback)
        self.pending.append(timer)
        return timer

    def live(self) -> list[Timer]:
        return [t for t in self.pending if not t.cancelled]

    def fire_all(self) -> None:
        due = self.live()
        self.pending = []
        for timer in due:
            timer.callback()


class FakeTransport:
    def __init__(self) -> None:
        self.loop = Timers()
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True
        self.pauses = 0
        self.resumes = 0

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True
        self.resumes += 1


def masked_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """One client frame, masked as RFC 6455 §5.3 requires (for byte vectors wsproto's own
    client would refuse to produce, such as invalid UTF-8)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Harness:
    def __init__(
        self,
        handler: Callable[[Any], Any],
        runner: AsyncRunner,
        settings: Settings | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        fields = headers or [
            ("host", "example.com"),
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-key", KEY),
            ("sec-websocket-version", "13"),
        ]
        request = Request("GET", "/ws", Headers(fields), id="ws-1")
        self.server = FakeServerLoop()
        self.transport = FakeTransport()
        handshake = check_handshake("GET", "1.1", request.headers)
        self.closed_seen: list[WebSocketProtocol] = []
        self.protocol = WebSocketProtocol(
            handler,
            request,
            handshake,
            runner,
            self.server.call_soon_threadsafe,
            settings or Settings(ping_interval=None),
            on_closed=self.closed_seen.append,
        )
        self.client = Connection(ConnectionType.CLIENT)
        self._read = 0
        self.head = b""
        self.events: list[Event] = []

    def start(self, trailing: bytes = b"") -> None:
        self.protocol.start(self.transport, trailing)

    def run_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        self.server.run_until(lambda: (self._pump() or True) and predicate(), timeout)

    def _pump(self) -> None:
        """Hand what the server wrote to the client connection (after the 101 head)."""
        new = bytes(self.transport.written[self._read :])
        if not new:
            return
        if not self.head:
            end = self.transport.written.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head = bytes(self.transport.written[: end + 4])
            new = bytes(self.transport.written[end + 4 :])
            if not self.head.startswith(b"HTTP/1.1 101"):
                self._read = len(self.transport.written)
                return
        self._read = len(self.transport.written)
        if new:
            self.client.receive_data(new)
            self.events.extend(self.client.events())

    def accepted(self) -> None:
        self.run_until(lambda: self.head.startswith(b"HTTP/1.1 101"))

    def send(self, event: Event, one_byte_at_a_time: bool = False) -> None:
        self.feed(self.client.send(event), one_byte_at_a_time)

    def feed(self, data: bytes, one_byte_at_a_time: bool = False) -> None:
        if one_byte_at_a_time:
            for i in range(len(data)):
                self.protocol.data_received(data[i : i + 1])
        else:
            self.protocol.data_received(data)

    def wait_events(self, count: int) -> list[Event]:
        self.run_until(lambda: len(self.events) >= count)
        return self.events
