"""Edges of the core: absolute-form targets route by their own authority, stray CRLFs do
not keep a connection open, body and write timeouts close slow clients, redirect routes
substitute params and keep (or drop) the query."""

from __future__ import annotations

import select
import socket
import time

import httpx
import pytest

from tests.support import ResponseReader, connect, exchange, read_until_closed, wait_for

SITE = """
    [server]
    access_log = "off"
    timeouts = { header = "1s", body = "500ms", idle = "1s", write = "500ms" }

    [[static]]
    prefix = "/files"
    dir = "public"

    [[route]]
    path = "/who"
    host = "admin.example"
    respond = { status = 200, body = "admin" }

    [[route]]
    path = "/who"
    respond = { status = 200, body = "public" }

    [[route]]
    path = "/upload"
    methods = ["POST"]
    respond = { status = 200, body = "got it" }

    [[route]]
    path = "/old/{rest:path}"
    redirect = { to = "/new/{rest}", status = 301 }

    [[route]]
    path = "/users/{id:int}/profile"
    redirect = { to = "/people/{id}", status = 302, keep_query = false }
"""


@pytest.fixture
def server(site):
    return site(SITE, {"public/big.bin": b"x" * (8 * 1024 * 1024)})


def test_absolute_form_target_routes_by_its_own_authority(server):
    # RFC 9112 3.2.2: the target's authority wins over the Host header.
    reply = exchange(
        server.port, b"GET http://admin.example/who HTTP/1.1\r\nHost: public.example\r\n\r\n"
    )
    assert reply.endswith(b"admin")
    reply = exchange(
        server.port, b"GET http://public.example/who HTTP/1.1\r\nHost: admin.example\r\n\r\n"
    )
    assert reply.endswith(b"public")


def test_stray_crlfs_do_not_keep_a_connection_open(server):
    sock = connect(server.port)
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < 8 and not closed:
        try:
            sock.sendall(b"\r\n")
        except OSError:
            closed = True
            break
        readable, _, _ = select.select([sock], [], [], 0.2)  # pace the sends, poll for close
        if readable:
            closed = sock.recv(1) == b""
    assert closed, "a trickle of empty lines kept the connection open"
    sock.close()


def test_body_timeout_answers_408_and_closes(server):
    with connect(server.port) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        sock.settimeout(10)
        reply = read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 408 ")


def test_write_timeout_closes_a_client_that_stops_reading(server):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(b"GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
    wait_for(lambda: len(server.server.conns) == 1)
    wait_for(lambda: len(server.server.conns) == 0, timeout=10)  # never read: dropped
    sock.close()


@pytest.mark.parametrize(
    ("target", "status", "location"),
    [
        ("/old/a/b%20c?x=1", 301, "/new/a/b%20c?x=1"),
        ("/users/7/profile?tab=2", 302, "/people/7"),
    ],
)
def test_redirect_routes(server, target, status, location):
    response = httpx.get(server.url + target, follow_redirects=False)
    assert response.status_code == status
    assert response.headers["location"] == location
    assert response.content == b""


def test_pipelined_request_after_head_only_response(server):
    with connect(server.port) as sock:
        sock.sendall(
            b"HEAD /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /who HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        reader = ResponseReader(sock)
        assert reader.read(head_request=True).headers["content-length"] == str(8 * 1024 * 1024)
        assert reader.read().body == b"public"
