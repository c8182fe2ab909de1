"""The server core against a real server on 127.0.0.1:0: keep-alive, HEAD, chunked
request bodies, pipelining in order and in few sends, bad requests answered and closed,
and timeouts that close a stalled client while others are served."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.support import ResponseReader, connect, exchange, read_until_closed, wait_for

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    max_body_bytes = "1KB"
    timeouts = { header = "400ms", body = "400ms", idle = "2s" }

    [[static]]
    prefix = "/"
    dir = "public"

    [[route]]
    path = "/echo"
    methods = ["GET", "POST"]
    handler = "api.echo:echo"

    [[route]]
    path = "/fast/{n:int}"
    handler = "api.echo:number"
    inline = true

    [[route]]
    path = "/peer"
    handler = "api.echo:peer"
"""

FILES = {
    "public/index.html": "<!doctype html><title>hi</title><p>hello</p>\n",
    "public/kb.txt": "x" * 1024,
    "api/__init__.py": "",
    "api/echo.py": """
        def echo(request):
            return {"method": request.method, "length": len(request.body),
                    "body": request.body.decode(), "query": request.query_string}

        def number(request):
            return str(request.params["n"])

        def peer(request):
            return {"port": request.client[1]}
    """,
}


@pytest.fixture
def server(site):
    return site(SITE, FILES)


def test_keep_alive_reuses_one_connection(server):
    with httpx.Client(base_url=server.url) as client:
        ports = {client.get("/peer").json()["port"] for _ in range(5)}
    assert len(ports) == 1


def test_static_file_and_json_route(server):
    with httpx.Client(base_url=server.url) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert b"hello" in page.content
        data = client.get("/echo?x=1")
        assert data.json() == {"method": "GET", "length": 0, "body": "", "query": "x=1"}
        assert data.headers["content-type"] == "application/json"


def test_head_has_headers_but_no_body(server):
    with connect(server.port) as sock:
        sock.sendall(
            b"HEAD /kb.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /fast/7 HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        reader = ResponseReader(sock)
        head = reader.read(head_request=True)
        assert head.status == 200
        assert head.headers["content-length"] == "1024"
        after = reader.read()
        assert after.body == b"7"  # nothing of the HEAD body leaked into the stream


def test_chunked_request_body(server):
    def chunks():
        yield b"hello "
        yield b"world"

    response = httpx.post(server.url + "/echo", content=chunks())
    assert response.json()["body"] == "hello world"


def test_not_found(server):
    response = httpx.get(server.url + "/nope.txt")
    assert response.status_code == 404


@pytest.mark.parametrize("count", [2, 16])
def test_pipelined_requests_answered_in_order_in_one_send(server, count):
    requests = b"".join(b"GET /fast/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(count))
    before = server.server.send_calls
    with connect(server.port) as sock:
        sock.sendall(requests)
        reader = ResponseReader(sock)
        bodies = [reader.read().body for _ in range(count)]
    assert bodies == [str(i).encode() for i in range(count)]
    assert server.server.send_calls - before == 1


def test_pipelined_requests_to_pool_handlers_stay_in_order(server):
    requests = b"".join(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s"
        % (len(str(i)), str(i).encode())
        for i in range(8)
    )
    with connect(server.port) as sock:
        sock.sendall(requests)
        reader = ResponseReader(sock)
        bodies = [reader.read().body for _ in range(8)]
    import json

    assert [json.loads(b)["body"] for b in bodies] == [str(i) for i in range(8)]


BAD_REQUESTS = [
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
    (b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n", 413),
    (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
    ),
    (b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
    (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
    (b"GET /%ff HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"NOT A REQUEST\r\n\r\n", 400),
]


@pytest.mark.parametrize(("raw", "status"), BAD_REQUESTS)
def test_bad_requests_get_their_status_and_the_connection_closes(server, raw, status):
    # A valid request after the bad one must not be answered: its framing is untrusted.
    reply = exchange(server.port, raw + b"GET /fast/1 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 %d " % status), reply[:80]
    assert b"connection: close" in reply.lower()
    assert reply.count(b"HTTP/1.1 ") == 1


def test_stalled_client_is_closed_while_others_are_served(server):
    stalled = connect(server.port)
    stalled.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # never finishes its head
    started = time.monotonic()
    with httpx.Client(base_url=server.url) as client:
        for _ in range(5):
            assert client.get("/fast/1").text == "1"
    stalled.settimeout(5)
    reply = read_until_closed(stalled)
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 4
    stalled.close()


def test_idle_keep_alive_connection_is_closed(server):
    sock = connect(server.port)
    sock.sendall(b"GET /fast/1 HTTP/1.1\r\nHost: t\r\n\r\n")
    ResponseReader(sock).read()
    wait_for(lambda: len(server.server.conns) == 1)
    sock.settimeout(6)
    assert read_until_closed(sock) == b""  # closed quietly after the 2s idle timeout
    sock.close()


def test_expect_continue_gets_100_then_the_answer(server):
    with connect(server.port) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        reader = ResponseReader(sock)
        assert reader.read().status == 100
        sock.sendall(b"hi")
        assert b'"body":"hi"' in reader.read().body


def test_http10_closes_after_response(server):
    reply = exchange(server.port, b"GET /fast/3 HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert reply.endswith(b"3")


def test_client_that_disconnects_mid_request_does_not_hurt(server):
    for _ in range(20):
        with connect(server.port) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    assert httpx.get(server.url + "/fast/2").text == "2"
    wait_for(lambda: len(server.server.conns) == 0)


def test_a_root_mount_does_not_hide_405_or_trailing_slash_redirects(site):
    running = site(
        """
        [server]
        access_log = "off"

        [[static]]
        prefix = "/"
        dir = "public"

        [[route]]
        path = "/api/things"
        methods = ["POST"]
        respond = { status = 201, body = "made" }

        [[route]]
        path = "/api/status"
        respond = { status = 200, body = "ok" }
        """,
        {"public/index.html": "<p>home</p>"},
    )
    with httpx.Client(base_url=running.url) as client:
        wrong_method = client.get("/api/things")
        assert wrong_method.status_code == 405
        assert wrong_method.headers["allow"] == "OPTIONS, POST"
        slash = client.get("/api/status/?x=1")
        assert slash.status_code == 308
        assert slash.headers["location"] == "/api/status?x=1"
        assert client.get("/missing").status_code == 404
        assert client.get("/").text == "<p>home</p>"
