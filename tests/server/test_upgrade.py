"""The protocol switch, through the real loop: a handler answers an Upgrade with Switch, the
101 head goes out after every earlier pipelined answer, and from then on the connection
belongs to a (test-only) echo protocol, which also gets the bytes sent after the request."""

from __future__ import annotations

import socket

import pytest

from tests.support import ResponseReader, connect, wait_for

SITE = """
    [server]
    access_log = "off"

    [[route]]
    path = "/echo"
    handler = "api.echo:upgrade"
    {inline}

    [[route]]
    path = "/hi"
    respond = { status = 200, body = "hi" }
"""

ECHO = """
from gateway import HTTPError
from gateway.response import Switch
from gateway.server.transport import Protocol


class Echo(Protocol):
    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"echo ready\\n")

    def data_received(self, data):
        if data.strip() == b"bye":
            self.transport.write(b"bye\\n")
            self.transport.close()
        else:
            self.transport.write(data.upper())

    def eof_received(self):
        self.transport.close()


def upgrade(request):
    if (request.headers.get("upgrade") or "").lower() != "echo":
        raise HTTPError(426, "this route speaks echo: send Upgrade: echo", {"upgrade": "echo"})
    return Switch(Echo, {"upgrade": "echo"})
"""

UPGRADE = b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"


@pytest.fixture(params=["pooled", "inline"])
def server(site, request):
    inline = "inline = true" if request.param == "inline" else ""
    return site(SITE.replace("{inline}", inline), {"api/echo.py": ECHO})


def read_line(reader: ResponseReader) -> bytes:
    while b"\n" not in reader.buffer:
        reader._fill()
    line, _, reader.buffer = reader.buffer.partition(b"\n")
    return line + b"\n"


def test_after_101_the_connection_speaks_the_switched_protocol(server) -> None:
    with connect(server.port) as sock:
        # A pipelined request first, then the upgrade, then bytes for the new protocol
        # in the same write: each goes where it belongs, in order.
        sock.sendall(b"GET /hi HTTP/1.1\r\nHost: t\r\n\r\n" + UPGRADE + b"early bytes\n")
        reader = ResponseReader(sock)
        first = reader.read()
        assert (first.status, first.body) == (200, b"hi")
        switched = reader.read()
        assert switched.status == 101
        assert switched.headers["upgrade"] == "echo"
        assert switched.headers["connection"] == "upgrade"
        assert "content-length" not in switched.headers
        assert read_line(reader) == b"echo ready\n"
        assert read_line(reader) == b"EARLY BYTES\n"
        sock.sendall(b"more\n")
        assert read_line(reader) == b"MORE\n"
        sock.sendall(b"bye\n")
        assert read_line(reader) == b"bye\n"
        assert sock.recv(10) == b""  # the echo protocol closed it
    # The server forgot the switched connection: it does not count it or time it out.
    wait_for(lambda: len(server.server.conns) == 0)


def test_without_the_upgrade_header_the_handler_answers_as_usual(server) -> None:
    with connect(server.port) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        reply = ResponseReader(sock).read()
        assert reply.status == 426
        assert reply.headers["upgrade"] == "echo"


def test_the_switched_protocol_hears_the_peer_shut_its_side(server) -> None:
    with connect(server.port) as sock:
        sock.sendall(UPGRADE)
        reader = ResponseReader(sock)
        assert reader.read().status == 101
        assert read_line(reader) == b"echo ready\n"
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b""  # eof_received closed it: the echo protocol's choice
