"""The proxy's one-step path for a response that arrives whole in one read (ResponseParser.
read_whole -> ProxyExchange.on_whole -> Responder.whole_response) against the general event
path, over the wire: the same requests through `gateway serve`, once as it runs and once with
read_whole turned off, must give the client the same bytes, and the first run must really
have taken the one-step path."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.http.response import ResponseParser
from tests.proxy.support import serving
from tests.proxy.upstream import Origin, read_request

DATE = "Date: Tue, 01 Dec 2026 02:00:00 GMT"
ANSWERS = {
    b"/plain": f"HTTP/1.1 200 OK\r\nServer: origin\r\n{DATE}\r\nContent-Type: text/plain\r\n"
    'ETag: "v1"\r\nContent-Length: 5\r\n\r\nhello',
    b"/hop": f"HTTP/1.1 200 OK\r\n{DATE}\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: "
    "timeout=5\r\nX-Hop: gone\r\nProxy-Thing: gone\r\nTrailer: x\r\nContent-Length: 2\r\n\r\nok",
    b"/close": f"HTTP/1.1 200 OK\r\n{DATE}\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye",
    b"/empty": f"HTTP/1.1 204 No Content\r\n{DATE}\r\n\r\n",
    b"/cached": f'HTTP/1.1 304 Not Modified\r\n{DATE}\r\nETag: "v1"\r\nContent-Length: 9\r\n\r\n',
    b"/zero": f"HTTP/1.1 200 OK\r\n{DATE}\r\nContent-Length: 0\r\n\r\n",
    b"/old": f"HTTP/1.0 200 OK\r\n{DATE}\r\nContent-Length: 3\r\n\r\nold",
    b"/head": f"HTTP/1.1 200 OK\r\n{DATE}\r\nContent-Length: 100\r\n\r\n",
    b"/chunked": f"HTTP/1.1 200 OK\r\n{DATE}\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3\r\nabc\r\n0\r\n\r\n",
    b"/bad": f"HTTP/1.1 200 OK\r\n{DATE}\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    b"/signed": f"HTTP/1.1 200 OK\r\n{DATE}\r\nContent-Length: +2\r\n\r\nab",
}
# (method, path, HTTP version of the client): each on a keep-alive connection, in order.
REQUESTS = [
    ("GET", "/plain", "1.1"),
    ("GET", "/plain", "1.1"),  # the head a second time: from the parser's cache
    ("GET", "/hop", "1.1"),
    ("GET", "/empty", "1.1"),
    ("GET", "/cached", "1.1"),
    ("GET", "/zero", "1.1"),
    ("GET", "/old", "1.1"),
    ("HEAD", "/head", "1.1"),
    ("GET", "/plain", "1.0"),
    ("GET", "/chunked", "1.1"),
    ("GET", "/close", "1.1"),
    ("GET", "/bad", "1.1"),
    ("GET", "/signed", "1.1"),
    ("GET", "/rules/plain", "1.1"),
    ("GET", "/rules/old", "1.1"),
    ("GET", "/deco/plain", "1.1"),  # the route's own headers and CORS: decorate()
    ("HEAD", "/deco/head", "1.1"),
]


def origin(conn: socket.socket) -> None:
    buf = bytearray()
    while (request := read_request(conn, buf)) is not None:
        path = request.split(b" ")[1].removeprefix(b"/rules").removeprefix(b"/deco")
        conn.sendall(ANSWERS[path].encode("latin-1"))  # one send: usually one read there
        if path in (b"/close", b"/old", b"/bad", b"/signed"):
            return


def read_answer(sock: socket.socket, buf: bytearray, method: str) -> bytes:
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        assert data, bytes(buf)
        buf += data
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end])
    status = int(head.split(b" ")[1])
    length = 0
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    if method == "HEAD" or status in (204, 304):
        length = 0
    elif b"transfer-encoding: chunked" in head.lower():
        while not buf.endswith(b"0\r\n\r\n"):
            buf += sock.recv(65536)
        length = len(buf) - end
    while len(buf) < end + length:
        buf += sock.recv(65536)
    answer = bytes(buf[: end + length])
    del buf[: end + length]
    return _without_ids(answer)


def _without_ids(answer: bytes) -> bytes:
    # A 502's text carries its request id and the origin's port, different in each run,
    # and gateway's own Date may have moved on a second.
    answer = re.sub(rb"127\.0\.0\.1:\d+", b"ORIGIN", answer.split(b"(request id")[0])
    return re.sub(rb"date: [^\r]*\r\n(server: gateway)", rb"date: X\r\n\1", answer)


def run_requests(tmp_path: Path) -> list[bytes]:
    upstream = Origin(origin)
    config = f"""
        [cors.web]
        allow_origins = ["https://app.example"]

        [[route]]
        path = "/deco/{{rest:path}}"
        methods = ["GET", "HEAD"]
        headers = {{ x-route = "1" }}
        cors = "web"
        proxy = {{ url = "http://127.0.0.1:{upstream.port}" }}

        [[route]]
        path = "/rules/{{rest:path}}"
        proxy = {{ url = "http://127.0.0.1:{upstream.port}", response_headers = {{ x-r = "1" }}, remove_response_headers = ["server", "content-length"] }}

        [[route]]
        path = "/{{rest:path}}"
        methods = ["*"]
        proxy = {{ url = "http://127.0.0.1:{upstream.port}" }}
        """
    answers = []
    try:
        with serving(tmp_path, config) as running:
            sock = socket.create_connection(("127.0.0.1", running.port), timeout=5)
            buf = bytearray()
            for method, path, version in REQUESTS:
                request = f"{method} {path} HTTP/{version}\r\nHost: t\r\n"
                request += "Origin: https://app.example\r\n"
                if version == "1.0":
                    request += "Connection: keep-alive\r\n"
                sock.sendall(request.encode() + b"\r\n")
                answers.append(read_answer(sock, buf, method))
                if b"connection: close" in answers[-1].lower():
                    sock.close()
                    sock = socket.create_connection(("127.0.0.1", running.port), timeout=5)
                    buf.clear()
            sock.close()
    finally:
        upstream.close()
    return answers


def test_the_one_step_path_answers_as_the_event_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[int] = []
    read_whole: Callable[..., object] = ResponseParser.read_whole

    def counted(self: ResponseParser, data: bytes) -> object:
        got = read_whole(self, data)
        taken.append(got is not None)
        return got

    monkeypatch.setattr(ResponseParser, "read_whole", counted)
    fast = run_requests(tmp_path / "fast")
    monkeypatch.setattr(ResponseParser, "read_whole", lambda self, data: None)
    general = run_requests(tmp_path / "general")
    assert fast == general
    assert sum(taken) >= len(REQUESTS) // 2  # the common ones went the one-step way
    statuses = [int(a.split(b" ")[1]) for a in fast]
    assert statuses[:-2] == [
        200,
        200,
        200,
        204,
        304,
        200,
        200,
        200,
        200,
        200,
        200,
        502,
        502,
        200,
        200,
    ]
    assert statuses[-2:] == [200, 200] and b"x-route: 1" in fast[-2] and b"x-route: 1" in fast[-1]
    assert b"access-control-allow-origin: https://app.example" in fast[-2]
    assert b"x-hop" not in fast[2].lower() and b"proxy-thing" not in fast[2].lower()
    assert fast[7].endswith(b"\r\n\r\n") and b"content-length: 100" in fast[7]
    assert b"transfer-encoding: chunked" in fast[13] and b"x-r: 1" in fast[13]
