"""Large Content-Length responses through `gateway serve` go kernel to kernel (zerocopy:
os.splice, or the recv_into/send fallback) on plain TCP: every byte in order, the client and
upstream connections both kept alive after it, the access log's size right; `splice = false`
and small bodies go the usual way; a client that stops reading is dropped on the write
timeout; an upstream that closes mid-body cuts the client's body short."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.proxy import zerocopy
from tests.proxy.support import origin_proxied
from tests.proxy.upstream import Origin, read_request
from tests.support import wait_for

SIZE = 3 * 1024 * 1024 + 17
PATTERN = bytes(range(251)) * (SIZE // 251 + 1)  # 251: a prime, so no block repeats on a power of 2


def origin_handler(conn: socket.socket) -> None:
    """Answers /N with N pattern bytes, /cut with half of what it promises; keep-alive."""
    buf = bytearray()
    while (request := read_request(conn, buf)) is not None:
        path = request.split(b" ")[1].decode()
        if path == "/cut":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % SIZE)
            conn.sendall(PATTERN[: SIZE // 2])
            return
        size = int(path[1:])
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        try:
            for start in range(0, size, len(PATTERN)):
                conn.sendall(PATTERN[: min(len(PATTERN), size - start)])
        except OSError:
            return  # the proxy gave up on this response


@contextmanager
def client_of(
    tmp_path: Path, route: str = "", server: str = ""
) -> Iterator[tuple[socket.socket, Origin]]:
    """A raw client connection to a gateway proxying every path to origin_handler (see
    origin_proxied for `route` and `server`)."""
    with (
        origin_proxied(tmp_path, origin_handler, route, server) as (port, origin),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        yield sock, origin


def get(sock: socket.socket, path: str) -> tuple[bytes, bytes]:
    """One GET on a keep-alive connection: (head, body), the body read to its length."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nhost: x\r\n\r\n".encode())
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1 << 20)
        assert chunk, bytes(data)
        data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    rest = bytearray(body)
    while len(rest) < length:
        chunk = sock.recv(1 << 20)
        assert chunk, f"closed after {len(rest)} of {length} body bytes"
        rest += chunk
    return head, bytes(rest)


def test_a_large_body_is_spliced_whole_and_both_connections_stay(
    tmp_path: Path, splices: list[zerocopy.BodySplice]
) -> None:
    with client_of(tmp_path) as (sock, origin):
        for size in (SIZE, 1000, SIZE - 5):
            head, body = get(sock, f"/{size}")
            assert head.startswith(b"HTTP/1.1 200") and body == PATTERN[:size]
        assert len(splices) == 2
        # The last bytes reach the client before the loop thread marks the splice finished.
        wait_for(lambda: all(s.finished for s in splices))
        assert splices[0].moved > SIZE - 256 * 1024  # most of it went around the parser
        assert origin.accepted == 1  # the upstream connection was pooled after each


def test_the_copy_fallback_and_splice_false(
    tmp_path: Path, splices: list[zerocopy.BodySplice], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zerocopy, "HAS_SPLICE", False)  # recv_into/send through one buffer
    with client_of(tmp_path) as (sock, _):
        assert get(sock, f"/{SIZE}")[1] == PATTERN[:SIZE]
        assert len(splices) == 1 and not splices[0].relay.spliced
    with client_of(tmp_path / "off", route=", splice = false") as (sock, _):
        assert get(sock, f"/{SIZE}")[1] == PATTERN[:SIZE]
        assert len(splices) == 1


def test_an_upstream_that_closes_mid_body_cuts_the_client_short(
    tmp_path: Path, splices: list[zerocopy.BodySplice]
) -> None:
    with client_of(tmp_path) as (sock, _):
        sock.sendall(b"GET /cut HTTP/1.1\r\nhost: x\r\n\r\n")
        received = 0
        while data := sock.recv(1 << 20):
            received += len(data)
        assert received < SIZE and len(splices) == 1


def test_a_client_that_stops_reading_a_spliced_body_is_dropped(
    tmp_path: Path, splices: list[zerocopy.BodySplice]
) -> None:
    big = 64 * 1024 * 1024  # more than both sockets' buffers hold
    with client_of(tmp_path, server='timeouts = { write = "300ms" }') as (sock, _):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(f"GET /{big} HTTP/1.1\r\nhost: x\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        wait_for(lambda: len(splices) == 1 and splices[0].finished, timeout=10)
        received = 0
        try:
            while data := sock.recv(1 << 20):
                received += len(data)
        except ConnectionResetError:
            pass
        assert received < big


def test_pipelined_requests_behind_a_spliced_body_come_after_it(
    tmp_path: Path, splices: list[zerocopy.BodySplice]
) -> None:
    with client_of(tmp_path) as (sock, _):
        sizes = (SIZE, 5000, SIZE - 1)
        sock.sendall(b"".join(f"GET /{n} HTTP/1.1\r\nhost: x\r\n\r\n".encode() for n in sizes))
        pending = b""
        for size in sizes:
            while b"\r\n\r\n" not in pending:
                pending += sock.recv(1 << 20)
            head, _, pending = pending.partition(b"\r\n\r\n")
            assert b"content-length: %d" % size in head.lower()
            while len(pending) < size:
                chunk = sock.recv(1 << 20)
                assert chunk
                pending += chunk
            body, pending = pending[:size], pending[size:]
            assert body == PATTERN[:size]
        assert len(splices) == 2
