"""`[server] min_body_rate` on proxied uploads the connection copies through its parser (a
chunked body, or `splice = false`): a body trickled slower than the rate after its grace
gets 408 through `gateway serve`, as a spliced one does, and the upstream request is cut."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.proxy.support import origin_proxied

SERVER = 'min_body_rate = "64MiB"\nmin_body_rate_grace = "200ms"'


class Reader:
    """A raw upstream that reads the request until the gateway closes, never answering;
    `cut` is set when it closed before the body's end."""

    def __init__(self) -> None:
        self.cut = threading.Event()
        self.received = bytearray()

    def __call__(self, conn: socket.socket) -> None:
        while data := conn.recv(65536):
            self.received += data
        if not self.received.endswith(b"0\r\n\r\n"):  # chunked: never its last chunk
            self.cut.set()


def trickle(sock: socket.socket, piece: bytes) -> bytes:
    """Send `piece` every 50 ms until an answer comes (at most 10 s): the answer."""
    sock.settimeout(0.05)
    for _ in range(200):
        try:
            return sock.recv(65536)
        except TimeoutError:
            sock.sendall(piece)
    return b""


@pytest.mark.parametrize(
    ("route", "head", "piece"),
    [
        ("", b"transfer-encoding: chunked\r\n\r\n1\r\na\r\n", b"1\r\nb\r\n"),
        (", splice = false", b"content-length: 4194304\r\n\r\n" + b"a" * 65536, b"b"),
    ],
    ids=["chunked", "splice-off"],
)
def test_a_copied_body_slower_than_min_body_rate_gets_408(
    tmp_path: Path, route: str, head: bytes, piece: bytes
) -> None:
    reader = Reader()
    with (
        origin_proxied(tmp_path, reader, route, SERVER) as (port, _origin),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        sock.sendall(b"PUT /up HTTP/1.1\r\nhost: x\r\n" + head)
        answer = trickle(sock, piece)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"request body too slow" in answer
        assert b"connection: close" in answer.lower()
        assert reader.cut.wait(5)  # the upstream request was dropped, not finished
