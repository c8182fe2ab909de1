"""Small fakes for testing the proxy's protocol logic sans-IO: a loop with a hand-driven
clock and timers, transports that record writes and pause/resume calls, a Downstream that
records what the client would get, and a stand-in for gateway.http.response.ResponseParser
(used only until that module exists: the real parser is preferred when importable)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.errors import ProtocolError
from gateway.http.events import NEED_DATA, PAUSED, Data, EndOfMessage
from gateway.http.headers import Headers
from gateway.proxy.seams import Failure, Fields


class Timer:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """`advance(seconds)` moves the clock and runs the timers that came due."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[Timer] = []
        self.soon: list[Callable[[], None]] = []
        self.dials: list[tuple[Any, FakeTransport]] = []

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.soon.append(callback)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def connect(self, address: Any, factory: Callable[[], Any]) -> FakeTransport:
        transport = FakeTransport(factory(), connected=False)
        self.dials.append((address, transport))
        return transport

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            due = sorted(
                (t for t in self.timers if not t.cancelled and t.when <= end), key=lambda t: t.when
            )
            if not due:
                break
            timer = due[0]
            self.timers.remove(timer)
            self.now = max(self.now, timer.when)
            timer.callback()
        self.now = end

    def live_timers(self) -> int:
        return sum(not t.cancelled for t in self.timers)


class FakeTransport:
    """Records what is written and how reading is paused; `high` sets when the protocol is
    told to pause writing (call `drain()` to empty the buffer and resume it)."""

    def __init__(self, protocol: Any = None, connected: bool = True, high: int = 1 << 30) -> None:
        self.protocol = protocol
        self.written = bytearray()
        self.buffered = 0
        self.high = high
        self.reading = True
        self.closing = False
        self.aborted = False
        self.connected = connected
        self.write_paused = False
        self.extra: dict[str, Any] = {}

    def made(self) -> None:
        """Finish a dial: the protocol's connection_made."""
        self.connected = True
        self.protocol.connection_made(self)

    def refuse(self, exc: BaseException) -> None:
        self.closing = True
        self.protocol.connection_lost(exc)

    def write(self, data: bytes | memoryview) -> None:
        if self.closing:
            return
        self.written += data
        self.buffered += len(data)
        if self.buffered > self.high and not self.write_paused:
            self.write_paused = True
            self.protocol.pause_writing()

    def drain(self) -> None:
        self.buffered = 0
        if self.write_paused:
            self.write_paused = False
            self.protocol.resume_writing()

    def take(self) -> bytes:
        data = bytes(self.written)
        self.written.clear()
        return data

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = self.aborted = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)


@dataclass
class FakeDownstream:
    """What the client would see, as calls: ("info", 103, fields), ("head", ...), ..."""

    def __post_init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.body = bytearray()
        self.paused = False
        self.client = FakeTransport()
        self.leftover = b""

    def pause_body(self) -> None:
        self.paused = True
        self.calls.append(("pause_body",))

    def resume_body(self) -> None:
        self.paused = False
        self.calls.append(("resume_body",))

    def informational(self, status: int, fields: Fields) -> None:
        self.calls.append(("info", status, fields))

    def start_response(self, status: int, reason: str, fields: Fields) -> None:
        self.calls.append(("head", status, reason, fields))

    def response_data(self, data: bytes) -> None:
        self.body += data

    def end_response(self, trailers: Fields | None) -> None:
        self.calls.append(("end", trailers))

    def fail(self, failure: Failure) -> None:
        self.calls.append(("fail", failure))

    def abort(self, failure: Failure) -> None:
        self.calls.append(("abort", failure))

    def switch(self, status: int, reason: str, fields: Fields) -> tuple[FakeTransport, bytes]:
        self.calls.append(("switch", status, fields))
        return self.client, self.leftover

    def kinds(self) -> list[str]:
        return [call[0] for call in self.calls]

    def failure(self) -> Failure:
        return next(call[1] for call in self.calls if call[0] in ("fail", "abort"))


@dataclass(frozen=True)
class Head:
    status: int
    reason: str
    http_version: str
    headers: Headers
    content_length: int | None
    chunked: bool
    close_delimited: bool
    keep_alive: bool


class StandInParser:
    """Enough of ResponseParser (PLAN.md) for protocol tests: status line, fields,
    Content-Length, chunked (no trailers), close-delimited, 1xx, 101 pause, HEAD/204/304."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.method = "GET"
        self.state = "head"
        self.left = 0
        self.eof = False
        self.head: Head | None = None

    def expect(self, method: str) -> None:
        self.method = method

    def feed(self, data: bytes) -> None:
        self.buf += data

    def feed_eof(self) -> None:
        self.eof = True

    def start_next(self) -> None:
        if self.head is None or not self.head.keep_alive:  # as the real parser refuses it
            raise RuntimeError("start_next() on a connection the last response closes")
        self.state = "head"

    def trailing_data(self) -> bytes:
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def next_event(self) -> object:
        return getattr(self, f"_{self.state}")()

    def _head(self) -> object:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return NEED_DATA
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        del self.buf[: end + 4]
        version, status, reason = ([*lines[0].split(" ", 2), ""])[:3]
        if not version.startswith("HTTP/1.") or not status.isdigit():
            raise ProtocolError(502, f"bad status line {lines[0]!r}")
        headers = Headers(tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:])  # type: ignore[misc]
        code = int(status)
        length = headers.get("content-length")
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        bodyless = code < 200 or code in (204, 304) or self.method == "HEAD"
        close = not bodyless and not chunked and length is None
        keep = headers.get("connection", "").lower() != "close" and not close
        self.head = Head(
            code,
            reason,
            version[5:],
            headers,
            int(length) if length else None,
            chunked,
            close,
            keep,
        )
        if code == 101:
            self.state = "paused"
        elif code < 200:
            self.state = "head"
        elif bodyless or (length is not None and int(length) == 0):
            self.state = "end"
        elif chunked:
            self.state = "chunk"
        elif length is not None:
            self.state, self.left = "length", int(length)
        else:
            self.state = "close"
        return self.head

    def _length(self) -> object:
        if not self.buf:
            if self.eof:
                raise ProtocolError(502, "closed mid-body")
            return NEED_DATA
        data = bytes(self.buf[: self.left])
        del self.buf[: len(data)]
        self.left -= len(data)
        if not self.left:
            self.state = "end"
        return Data(data)

    def _chunk(self) -> object:
        line_end = self.buf.find(b"\r\n")
        if line_end < 0:
            return NEED_DATA
        size = int(self.buf[:line_end], 16)
        if size == 0:
            if len(self.buf) < line_end + 4:
                return NEED_DATA
            del self.buf[: line_end + 4]
            self.state = "end"
            return self.next_event()
        if len(self.buf) < line_end + 2 + size + 2:
            return NEED_DATA
        data = bytes(self.buf[line_end + 2 : line_end + 2 + size])
        del self.buf[: line_end + 2 + size + 2]
        return Data(data)

    def _close(self) -> object:
        if self.buf:
            data = bytes(self.buf)
            self.buf.clear()
            return Data(data)
        if self.eof:
            self.state = "end"
            return self.next_event()
        return NEED_DATA

    def _end(self) -> object:
        self.state = "paused"
        return EndOfMessage()

    def _paused(self) -> object:
        return PAUSED


def parser_factory() -> Callable[[], Any]:
    """The real ResponseParser when gateway.http.response exists, else the stand-in."""
    try:
        module = importlib.import_module("gateway.http.response")
    except ImportError:
        return StandInParser
    return lambda: module.ResponseParser(max_header_bytes=16384, max_headers=100)
