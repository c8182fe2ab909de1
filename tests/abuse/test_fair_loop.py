"""One connection cannot hold the loop (issue 10, item 4, the server's part): it handles at
most TURN_EVENTS parser events per turn, then lets the others go first; a body arriving
slower than server.min_body_rate (after its grace) is refused with 408."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.server.h1state import State
from gateway.server.http1 import TURN_EVENTS
from tests.server.test_http1 import answers, conn  # noqa: F401 (the fixture)
from tests.support import ResponseReader, connect, running_server, write_site


def test_pipelined_requests_are_handled_a_turn_at_a_time(conn) -> None:  # noqa: F811
    protocol, transport, _ = conn
    count = 3 * TURN_EVENTS
    protocol.data_received(b"GET /fixed HTTP/1.1\r\nHost: t\r\n\r\n" * count)
    first = len(answers(bytes(transport.out)))
    assert 0 < first < TURN_EVENTS  # the rest waits for the other connections
    assert protocol.state is State.HELD and not transport.reading
    protocol.ctx.loop.run_ready()  # each turn schedules the next one
    assert len(answers(bytes(transport.out))) == count
    assert protocol.state is State.READING and transport.reading


SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    min_body_rate = 1000
    min_body_rate_grace = "300ms"

    [[route]]
    path = "/upload"
    methods = ["POST"]
    respond = { status = 200, body = "got it" }
"""


def test_a_trickled_body_is_refused_with_408(tmp_path: Path) -> None:
    with running_server(write_site(tmp_path, SITE)) as running:
        with connect(running.port, timeout=5) as sock:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
            started = time.monotonic()
            sock.settimeout(0.05)
            answer = b""
            while not answer and time.monotonic() - started < 5:
                try:
                    sock.sendall(b"x")  # 20 bytes a second
                    answer = sock.recv(65536)
                except TimeoutError:
                    continue
            assert answer.startswith(b"HTTP/1.1 408 "), answer
            assert b"request body too slow" in answer
        with connect(running.port) as sock:  # a body at a decent rate is fine
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
            assert ResponseReader(sock).read().status == 200
