"""Sans-IO doubles for the TLS layer: a loop whose timers the test fires, a socket transport
that keeps what is written until the test drains it (with asyncio-style water marks), an
inner protocol that records events, and a TLS client on an SSLObject over MemoryBIOs."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Handle:
    def __init__(self, delay: float, callback: Callable[[], None]) -> None:
        self.delay, self.callback, self.cancelled = delay, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    def __init__(self) -> None:
        self.soon: list[Callable[[], None]] = []
        self.timers: list[Handle] = []

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.soon.append(callback)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        handle = Handle(delay, callback)
        self.timers.append(handle)
        return handle

    def run_soon(self) -> None:
        while self.soon:
            self.soon.pop(0)()

    def fire_timers(self) -> None:
        for handle in list(self.timers):
            if not handle.cancelled:
                handle.callback()


class FakeOuter:
    """The socket transport below the layer: `take()` plays the kernel sending bytes."""

    def __init__(self, loop: FakeLoop, high: int = 64 * 1024, low: int = 16 * 1024) -> None:
        self.loop = loop
        self.buffer = bytearray()
        self.high, self.low = high, low
        self.paused = False
        self.reading = True
        self.closed = self.aborted = False
        self.max_buffered = 0
        self.writes = 0
        self.protocol: Any = None

    def write(self, data: bytes | memoryview) -> None:
        assert not (self.closed or self.aborted), "write after close"
        self.writes += 1
        self.buffer += data
        self.max_buffered = max(self.max_buffered, len(self.buffer))
        if not self.paused and len(self.buffer) > self.high:
            self.paused = True
            self.protocol.pause_writing()

    def take(self, limit: int | None = None) -> bytes:
        limit = len(self.buffer) if limit is None else limit
        data = bytes(self.buffer[:limit])
        del self.buffer[:limit]
        if self.paused and len(self.buffer) <= self.low:
            self.paused = False
            self.protocol.resume_writing()
        return data

    def get_write_buffer_size(self) -> int:
        return len(self.buffer)

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        self.high, self.low = high, low

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000)}.get(name, default)


class Recorder:
    """The inner (HTTP) protocol: records what the layer tells it."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.events: list[str] = []
        self.data = bytearray()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> None:
        self.events.append("eof")

    def connection_lost(self, exc: BaseException | None) -> None:
        self.events.append("lost")

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")


class Client:
    """A TLS client in memory, trusting `ca`."""

    def __init__(self, ca: Path, server_name: str = "example.com", **options: Any) -> None:
        context = options.pop("context", None) or ssl.create_default_context(cafile=str(ca))
        context.set_alpn_protocols(options.pop("alpn", ["http/1.1"]))
        if options.pop("insecure", False):  # accept any certificate (a placeholder)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if "maximum_version" in options:
            context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            context.maximum_version = options.pop("maximum_version")
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.context = context
        self.ssl = context.wrap_bio(
            self.incoming,
            self.outgoing,
            server_hostname=server_name,
            session=options.pop("session", None),
        )
        self.received = bytearray()
        self.closed_by_peer = False

    def step(self) -> bool:
        """Advance the handshake; True once it is done."""
        try:
            self.ssl.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def read_all(self) -> None:
        while True:
            try:
                chunk = self.ssl.read(1 << 20)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLZeroReturnError:
                self.closed_by_peer = True
                return
            if not chunk:  # close_notify reads as b""
                self.closed_by_peer = True
                return
            self.received += chunk


def exchange(client: Client, layer: Any, outer: FakeOuter, one_byte: bool = False) -> None:
    """Move bytes both ways until neither side has anything more to say."""
    for _ in range(50):
        moved = False
        data = client.outgoing.read()
        if data:
            moved = True
            if one_byte:
                for i in range(len(data)):
                    layer.data_received(data[i : i + 1])
            else:
                layer.data_received(data)
        back = outer.take()
        if back:
            moved = True
            client.incoming.write(back)
        if client.step():
            client.read_all()
        if not moved and not client.outgoing.pending:
            return
