"""gateway.testing with proxy routes: a request goes to the real upstream through the same
exchange as under `gateway serve` (prefix stripped, forwarding headers, the route's
response headers) and comes back whole; an upstream that is down is the server's 502;
what cannot be done in process (an answer cut mid-body) is a ProxyRouteError that says so."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from gateway.testing import ProxyRouteError, Transport
from tests.proxy.upstream import Origin, dead_port, read_request, upstream
from tests.support import write_site


def test_a_proxy_route_answers_from_the_real_upstream(tmp_path: Path) -> None:
    with upstream() as up:
        path = write_site(
            tmp_path,
            f"""
            [[route]]
            path = "/hello"
            respond = {{ body = "hi" }}

            [[route]]
            path = "/api/{{rest:path}}"
            methods = ["*"]
            proxy = {{ url = "http://127.0.0.1:{up.port}", strip_prefix = "/api", response_headers = {{ x-route = "api" }} }}

            [[route]]
            path = "/down"
            proxy = "http://127.0.0.1:{dead_port()}"
            """,
        )
        with httpx.Client(transport=Transport(path), base_url="http://test") as client:
            assert client.get("/hello").text == "hi"
            got = client.post("/api/items?x=1", content=b"hello")
            assert got.status_code == 200 and got.headers["x-route"] == "api"
            echoed = got.json()
            assert (echoed["method"], echoed["path"], echoed["body"]) == (
                "POST",
                "/items?x=1",
                "hello",
            )
            fields = dict(echoed["headers"])
            assert fields["x-forwarded-for"] == "testclient"
            assert fields["via"] == "1.1 gateway"
            down = client.get("/down")
            assert down.status_code == 502 and "cannot connect" in down.text


def test_an_answer_cut_mid_body_is_a_clear_error(tmp_path: Path) -> None:
    def cut(conn: socket.socket) -> None:
        if read_request(conn, bytearray()) is not None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")

    origin = Origin(cut)
    try:
        path = write_site(
            tmp_path, f'[[route]]\npath = "/x"\nproxy = "http://127.0.0.1:{origin.port}"\n'
        )
        with (
            httpx.Client(transport=Transport(path), base_url="http://test") as client,
            pytest.raises(ProxyRouteError) as caught,
        ):
            client.get("/x")
        message = str(caught.value)
        assert "GET '/x'" in message and "closed the connection mid-response" in message
        assert "gateway serve" in message
    finally:
        origin.close()
