"""An upstream that answers before the client's request body has all gone up (a 413 after a
few bytes): the answer is passed on with `connection: close` (RFC 9112 §9.6: a server that
will close says so), because the rest of the body is never read and the connection ends."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.proxy.support import origin_proxied, read_to_close


def refuse_after(count: int):
    def refuse(conn: socket.socket) -> None:
        got = b""
        while b"\r\n\r\n" not in got or len(got) - got.index(b"\r\n\r\n") - 4 < count:
            data = conn.recv(1 << 20)
            if not data:
                return
            got += data
        conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 4\r\n\r\nbig!")

    return refuse


@pytest.mark.parametrize(
    ("length", "sent"),
    [(1000, 10), (4 * 1024 * 1024, 1024 * 1024)],
    ids=["copied", "spliced"],
)
def test_an_answer_before_the_body_is_up_says_connection_close(
    tmp_path: Path, length: int, sent: int
) -> None:
    with (
        origin_proxied(tmp_path, refuse_after(sent)) as (port, _origin),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        head = f"PUT /up HTTP/1.1\r\nhost: x\r\ncontent-length: {length}\r\n\r\n".encode()
        sock.sendall(head + b"x" * sent)
        answer = read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 413") and answer.endswith(b"big!"), answer[:200]
    head_lines = answer.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")
    assert b"connection: close" in head_lines, answer[:300]
