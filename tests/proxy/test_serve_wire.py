"""The proxy inside `gateway serve` against raw upstreams on 127.0.0.1 (tests/proxy/test_live
Origin): a WebSocket conversation through the tunnel with wsproto on both ends, a stale pooled
connection retried, and hostile upstreams (bad framing, a body cut short, more bytes than its
Content-Length), each seen by a real client."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.proxy.support import origin_proxied
from tests.proxy.upstream import keep_alive_origin, read_request, ws_echo


def answer_once(response: bytes) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        if read_request(conn, bytearray()) is not None:
            conn.sendall(response)

    return handle


def test_websocket_conversation_through_the_proxy(tmp_path: Path) -> None:
    pytest.importorskip("wsproto", reason="the websocket extra")
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, CloseConnection, Message, Request, TextMessage

    with (
        origin_proxied(tmp_path, ws_echo) as (port, _),
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
    ):
        client = WSConnection(ConnectionType.CLIENT)
        got: list[object] = []

        def until(kind: type, count: int = 1) -> list[object]:
            while len(found := [e for e in got if isinstance(e, kind)]) < count:
                data = sock.recv(65536)
                assert data, "the proxy closed the tunnel"
                client.receive_data(data)
                got.extend(client.events())
            return found

        sock.sendall(client.send(Request(host="localhost", target="/ws")))
        until(AcceptConnection)
        for text in ("hello", "again"):
            sock.sendall(client.send(Message(data=text)))
        texts = until(TextMessage, 2)
        assert [e.data for e in texts] == ["echo: hello", "echo: again"]  # type: ignore[attr-defined]
        sock.sendall(client.send(CloseConnection(code=1000)))
        until(CloseConnection)


def test_a_stale_pooled_connection_is_retried_on_a_fresh_one(tmp_path: Path) -> None:
    with origin_proxied(tmp_path, keep_alive_origin(close_after=1)) as (port, origin):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/").text == "got 0 bytes"
            # The origin closed the pooled connection; the POST goes out on a new one.
            assert client.post("/", content=b"abc").text == "got 3 bytes"
        assert origin.accepted == 2


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"HTTP/9 200 OK\r\n\r\n",
        # in the same read as its head, which therefore has not left yet
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n",
    ],
    ids=["cl-and-te", "two-lengths", "bad-status-line", "bad-chunk-with-its-head"],
)
def test_bad_upstream_framing_is_502(tmp_path: Path, response: bytes) -> None:
    with origin_proxied(tmp_path, answer_once(response)) as (port, _):
        got = httpx.get(f"http://127.0.0.1:{port}/")
        assert got.status_code == 502 and "request id" in got.text


@pytest.mark.parametrize(
    "cut",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 40,
    ],
    ids=["closes-mid-body"],
)
def test_a_body_cut_short_reaches_the_client_cut_short(tmp_path: Path, cut: bytes) -> None:
    # The head went out already: the client must see a truncated body, never a whole one.
    with (
        origin_proxied(tmp_path, answer_once(cut)) as (port, _),
        pytest.raises(httpx.RemoteProtocolError),
    ):
        httpx.get(f"http://127.0.0.1:{port}/")


def test_bytes_past_the_content_length_are_not_passed_on(tmp_path: Path) -> None:
    extra = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\nsmuggled"
    with (
        origin_proxied(tmp_path, answer_once(extra)) as (port, _),
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
    ):
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\nok" not in data:
            data += sock.recv(65536)
        sock.sendall(b"GET /2 HTTP/1.1\r\nhost: x\r\n\r\n")
        while data.count(b"HTTP/1.1 ") < 2:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        assert b"smuggled" not in data


def test_request_bodies_stream_upstream_as_they_arrive(tmp_path: Path) -> None:
    first_half = threading.Event()

    def handle(conn: socket.socket) -> None:
        buf = b""
        while not buf.endswith(b"hello"):  # the head and the first half, before the rest
            buf += conn.recv(65536)
        first_half.set()
        while not buf.endswith(b"world"):
            buf += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    with (
        origin_proxied(tmp_path, handle) as (port, _),
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
    ):
        sock.sendall(b"POST /up HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nhello")
        assert first_half.wait(5), "the first half of the body did not reach the upstream"
        sock.sendall(b"world")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")


def test_max_body_bytes_still_holds_for_streamed_bodies(tmp_path: Path) -> None:
    got = bytearray()

    def handle(conn: socket.socket) -> None:
        while data := conn.recv(65536):
            got.extend(data)

    with origin_proxied(tmp_path, handle, server="max_body_bytes = 100") as (port, _):
        url = f"http://127.0.0.1:{port}"
        too_long = httpx.post(url + "/", content=b"x" * 101)
        assert too_long.status_code == 413

        def chunks() -> Iterator[bytes]:
            for _ in range(5):
                yield b"y" * 50

        chunked = httpx.post(url + "/", content=chunks())
        assert chunked.status_code == 413
    assert len(got.split(b"y" * 50)) <= 3  # no more than the limit went upstream


def test_a_proxied_200_keeps_its_headers_when_the_client_holds_its_etag(tmp_path: Path) -> None:
    # The upstream ignored If-None-Match and answered 200: the client gets that 200 as sent.
    # (The app's compression step used to turn such an answer's headers into a 304's.)
    ok = (
        b'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: "v1"\r\n'
        b"Content-Length: 5\r\n\r\nhello"
    )
    with origin_proxied(tmp_path, answer_once(ok)) as (port, _):
        got = httpx.get(f"http://127.0.0.1:{port}/", headers={"if-none-match": '"v1"'})
        assert (got.status_code, got.text) == (200, "hello")
        assert got.headers["content-type"] == "text/html" and got.headers["etag"] == '"v1"'


def test_requests_pipelined_behind_a_proxied_one_are_answered_after_it(tmp_path: Path) -> None:
    got_first, release = threading.Event(), threading.Event()

    def handle(conn: socket.socket) -> None:
        buf = bytearray()
        while (request := read_request(conn, buf)) is not None:
            path = request.split(b" ")[1]
            if path == b"/1":
                got_first.set()
                release.wait(5)  # held until the client pipelined more behind it
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(path), path))

    with (
        origin_proxied(tmp_path, handle) as (port, _),
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
    ):
        sock.sendall(b"GET /1 HTTP/1.1\r\nhost: x\r\n\r\n")
        assert got_first.wait(5)
        sock.sendall(b"GET /2 HTTP/1.1\r\nhost: x\r\n\r\nGET /3 HTTP/1.1\r\nhost: x\r\n\r\n")
        release.set()
        data = b""
        while data.count(b"HTTP/1.1 200") < 3 or not data.endswith(b"/3"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        bodies = [part.rpartition(b"\r\n\r\n")[2] for part in data.split(b"HTTP/1.1 ")[1:]]
        assert bodies == [b"/1", b"/2", b"/3"]
