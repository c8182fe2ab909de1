"""HttpProtocol without a socket: a recording transport stands in for SocketTransport, so the
protocol's State, its order of answers and its error paths are checked byte for byte,
including a parser that emits a request head before raising 413 on the next event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.errors import ProtocolError
from gateway.http.events import RequestHead
from gateway.http.parser import RequestParser
from gateway.http.writer import ResponseWriter
from gateway.log import AccessLog
from gateway.server.context import ConnContext
from gateway.server.h1state import State
from gateway.server.http1 import HttpProtocol
from gateway.server.loop import Loop
from gateway.server.pool import HandlerPool
from gateway.server.transport import Transport
from tests.support import write_site

SITE = """
    [server]
    access_log = "off"

    [cors.web]
    allow_origins = ["https://app.example"]

    [[route]]
    path = "/fixed"
    methods = ["GET", "POST"]
    respond = { status = 200, body = "fixed" }
    cors = "web"

    [[route]]
    path = "/stream"
    handler = "api.h:stream"
    inline = true

    [[route]]
    path = "/pooled"
    handler = "api.h:pooled"
"""

HANDLERS = """
    def stream(request):
        yield b"part1;"
        yield b"part2"

    def pooled(request):
        return "from the pool"
"""


class Recording(Transport):
    """Everything written, in order; reading and closing as flags."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.out = bytearray()
        self.reading = True
        self.closing = False
        self.progress_at = 0.0

    def write(self, data: bytes | memoryview) -> None:
        if not self.closing:
            self.out += data

    def write_file(self, fd: int, offset: int, count: int, done: Any) -> None:
        raise AssertionError("no files here")

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        pass


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[tuple[HttpProtocol, Recording, HandlerPool]]:
    app = build_app(load_config(write_site(tmp_path, SITE, {"api/h.py": HANDLERS})))
    loop = Loop()
    pool = HandlerPool(loop, 1, 1)
    writer = ResponseWriter()
    ids = iter(range(1, 1000))
    ctx = ConnContext(
        app=app,
        loop=loop,
        pool=pool,
        writer=writer,
        access_log=AccessLog("off"),
        timeouts=app.config.server.timeouts,
        parser_limits={"max_body_bytes": 10},
        next_request_id=lambda: str(next(ids)),
        forget=lambda conn: None,
    )
    protocol = HttpProtocol(ctx, ("127.0.0.1", 1))
    transport = Recording(loop)
    protocol.connection_made(transport)
    yield protocol, transport, pool
    pool.shutdown()
    app.close()
    loop.close()


def answers(data: bytes) -> list[bytes]:
    return [part for part in data.split(b"HTTP/1.1 ")[1:]]


def test_pipelined_answers_keep_order_across_a_streamed_body(conn) -> None:
    protocol, transport, _ = conn
    protocol.data_received(
        b"GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    parts = answers(bytes(transport.out))
    assert [p[:3] for p in parts] == [b"200", b"200", b"200"]
    assert parts[0].endswith(b"fixed")
    assert b"6\r\npart1;\r\n5\r\npart2\r\n0\r\n\r\n" in parts[1]
    assert parts[2].endswith(b"fixed")
    assert protocol.state is State.READING and transport.reading


def test_a_pooled_request_pauses_reading_until_its_answer(conn) -> None:
    protocol, transport, _ = conn
    protocol.data_received(b"GET /pooled HTTP/1.1\r\nHost: t\r\n\r\nGET /fixed HTTP/1.1\r\n")
    assert protocol.state is State.HANDLING and not transport.reading
    loop = protocol.ctx.loop
    deadline = loop.now + 5
    loop.run(lambda: protocol.state is not State.HANDLING or loop.now > deadline)
    assert protocol.state is State.READING and transport.reading
    assert bytes(transport.out).endswith(b"from the pool")
    protocol.data_received(b"Host: t\r\n\r\n")  # the pipelined request, completed now
    assert bytes(transport.out).endswith(b"fixed")


def test_a_pooled_request_alone_keeps_reading_until_bytes_arrive(conn) -> None:
    """No epoll_ctl pair per pooled request: reading stops only once bytes arrive while
    the handler runs, and they wait in the parser until its answer is sent."""
    protocol, transport, _ = conn
    protocol.data_received(b"GET /pooled HTTP/1.1\r\nHost: t\r\n\r\n")
    assert protocol.state is State.HANDLING and transport.reading
    handler_deadline = protocol.deadline
    protocol.data_received(b"GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n")
    assert protocol.state is State.HANDLING and not transport.reading
    assert protocol.deadline == handler_deadline  # not the header clock: no early 504
    loop = protocol.ctx.loop
    deadline = loop.now + 5
    loop.run(lambda: protocol.state is not State.HANDLING or loop.now > deadline)
    assert protocol.state is State.READING and transport.reading
    assert bytes(transport.out).endswith(b"fixed")  # the pooled answer, then this one
    assert b"from the pool" in bytes(transport.out)


def test_peer_eof_after_a_request_answers_it_then_closes(conn) -> None:
    protocol, transport, _ = conn
    protocol.data_received(b"GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n")
    protocol.eof_received()
    assert protocol.state is State.DRAINING and transport.closing
    assert bytes(transport.out).endswith(b"fixed")


class HeadFirstParser(RequestParser):
    """The parser as the http helper is changing it: a body over the limit emits the head,
    then raises 413 on the next event, with no `head` on the error."""

    def next_event(self) -> Any:
        event = super().next_event()  # the limit here is large: the head parses
        if isinstance(event, RequestHead) and (event.content_length or 0) > 10:
            self._read = self._raise_413  # type: ignore[method-assign]
        return event

    def _raise_413(self) -> Any:
        raise ProtocolError(413, "body over the limit")


@pytest.mark.parametrize("method", ["POST", "HEAD"])
def test_a_413_after_its_head_is_answered_for_its_route(conn, method) -> None:
    protocol, transport, _ = conn
    protocol.parser = HeadFirstParser(max_body_bytes=10_000)
    protocol.data_received(
        f"{method} /fixed HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n"
        "Expect: 100-continue\r\nContent-Length: 500\r\n\r\n".encode()
    )
    out = bytes(transport.out)
    assert out.startswith(b"HTTP/1.1 413 "), out  # no 100 Continue before it
    assert b"access-control-allow-origin: https://app.example" in out
    assert out.endswith(b"\r\n\r\n") == (method == "HEAD")  # HEAD: the head only
    assert protocol.state is State.DRAINING and transport.closing


def test_a_stream_that_ends_into_a_full_buffer_holds_then_resumes(conn) -> None:
    protocol, transport, _ = conn
    original = transport.write

    def write(data: bytes | memoryview) -> None:
        original(data)
        # The buffer fills after the first chunk, and again with the last one.
        if bytes(data).endswith((b"part1;\r\n", b"0\r\n\r\n")):
            protocol.pause_writing()

    transport.write = write  # type: ignore[method-assign]
    protocol.data_received(
        b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\nGET /fixed HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    assert protocol.state is State.STREAMING and not transport.reading
    protocol.resume_writing()  # drained: the stream goes on, ends, and fills it again
    assert protocol.state is State.HELD and not transport.reading
    assert not bytes(transport.out).endswith(b"fixed")  # the next answer waits
    protocol.resume_writing()
    assert protocol.state is State.READING and transport.reading
    assert bytes(transport.out).endswith(b"fixed")
