"""The proxy inside `gateway serve`: a real gateway, from gateway.toml, proxying to real
upstream servers (tests/proxy/upstream.py) on 127.0.0.1, checked with httpx and raw sockets:
forwarding and strip_prefix, the header policy, pooled reuse, failures (502/504/503) with the
request id and CORS, retries and balancing across servers, streaming, the access log."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.proxy.support import balanced, serving
from tests.proxy.upstream import ENDLESS, Upstream, dead_port, upstream
from tests.support import wait_for


@contextmanager
def gateway(tmp_path: Path, config: str, log: str = "off") -> Iterator[str]:
    with serving(tmp_path, config, log) as running:
        yield running.url


@contextmanager
def to_upstream(
    tmp_path: Path, server: str = "", every_method: bool = False, log: str = "off"
) -> Iterator[tuple[Upstream, str]]:
    """An echo upstream and a gateway proxying every path to it (`server`: a [server] line;
    `every_method`: methods = ["*"]): yields (the upstream, the gateway's URL)."""
    methods = 'methods = ["*"]' if every_method else ""
    with upstream() as up:
        config = f"""
            {server}

            [[route]]
            path = "/{{rest:path}}"
            {methods}
            proxy = "http://127.0.0.1:{up.port}"
            """
        with gateway(tmp_path, config, log) as url:
            yield up, url


def echo(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    data["fields"] = dict(data["headers"])
    return data


def test_requests_reach_the_upstream_with_the_prefix_stripped(tmp_path: Path) -> None:
    with (
        upstream() as up,
        gateway(
            tmp_path,
            f"""
        [upstream.api]
        servers = ["127.0.0.1:{up.port}"]

        [[route]]
        path = "/api/{{rest:path}}"
        methods = ["*"]
        proxy = {{ upstream = "api", strip_prefix = "/api" }}
    """,
        ) as url,
        httpx.Client(base_url=url) as client,
    ):
        got = echo(client.get("/api/users/7?x=1%202"))
        assert (got["method"], got["path"]) == ("GET", "/users/7?x=1%202")
        posted = echo(client.post("/api/items", content=b"hello"))
        assert (posted["method"], posted["body"]) == ("POST", "hello")
        for method in ("PUT", "PATCH", "DELETE"):
            assert echo(client.request(method, "/api/x"))["method"] == method
        head = client.head("/api/x")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) > 0  # the upstream's, without a body


def test_shorthand_url_passes_the_whole_path(tmp_path: Path) -> None:
    with (
        upstream() as up,
        gateway(
            tmp_path,
            f"""
        [[route]]
        path = "/dev/{{rest:path}}"
        proxy = "http://127.0.0.1:{up.port}"
    """,
        ) as url,
    ):
        assert echo(httpx.get(url + "/dev/src/main.ts"))["path"] == "/dev/src/main.ts"


def test_header_policy_hop_by_hop_and_forwarding(tmp_path: Path) -> None:
    with (
        upstream() as up,
        gateway(
            tmp_path,
            f"""
        [[route]]
        path = "/{{rest:path}}"
        proxy = {{ url = "http://127.0.0.1:{up.port}", headers = {{ x-added = "yes" }}, remove_headers = ["X-Secret"], response_headers = {{ x-via-gw = "1" }}, remove_response_headers = ["X-Upstream"] }}
    """,
        ) as url,
    ):
        response = httpx.get(
            url + "/h",
            headers={
                "connection": "x-drop",
                "x-drop": "1",
                "te": "trailers",
                "proxy-authorization": "basic abc",
                "x-forwarded-for": "6.6.6.6",
                "forwarded": "for=6.6.6.6",
                "x-secret": "s",
                "host": "site.example",
            },
        )
        got = echo(response)["fields"]
        for gone in ("x-drop", "te", "proxy-authorization", "x-secret"):
            assert gone not in got, gone
        assert got["x-forwarded-for"] == "127.0.0.1"  # the client's own value is not trusted
        assert got["x-forwarded-proto"] == "http"
        assert got["x-forwarded-host"] == "site.example"
        assert got["forwarded"] == "for=127.0.0.1;host=site.example;proto=http"
        assert got["host"] == "site.example" and got["x-added"] == "yes"
        assert "via" in got
        assert response.headers["x-via-gw"] == "1" and "x-upstream" not in response.headers
        assert "keep-alive" not in response.headers  # hop-by-hop on the way back too


def test_trusted_proxies_values_are_appended(tmp_path: Path) -> None:
    with (
        to_upstream(tmp_path, server='trusted_proxies = ["127.0.0.0/8"]') as (_, url),
    ):
        got = echo(httpx.get(url + "/", headers={"x-forwarded-for": "203.0.113.9"}))["fields"]
        assert got["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"


def test_keep_alive_connections_to_the_upstream_are_reused(tmp_path: Path) -> None:
    with (
        to_upstream(tmp_path) as (_, url),
    ):
        with httpx.Client(base_url=url) as client:
            ports = {echo(client.get(f"/{i}"))["peer_port"] for i in range(10)}
        assert len(ports) == 1


def test_upstream_down_is_502_with_request_id_and_cors(tmp_path: Path) -> None:
    with gateway(
        tmp_path,
        f"""
        cors = "web"
        [cors.web]
        allow_origins = ["https://app.example"]

        [[route]]
        path = "/{{rest:path}}"
        proxy = {{ url = "http://127.0.0.1:{dead_port()}", retries = 0 }}
    """,
    ) as url:
        response = httpx.get(url + "/x", headers={"origin": "https://app.example"})
        assert response.status_code == 502
        assert "127.0.0.1" in response.text and "request id" in response.text
        assert response.headers["access-control-allow-origin"] == "https://app.example"


def test_an_upstream_that_does_not_answer_in_time_is_504(tmp_path: Path) -> None:
    with (
        upstream() as up,
        gateway(
            tmp_path,
            f"""
        [[route]]
        path = "/{{rest:path}}"
        proxy = {{ url = "http://127.0.0.1:{up.port}", timeout = "300ms" }}
    """,
        ) as url,
    ):
        response = httpx.get(url + "/stall", timeout=10)
        assert response.status_code == 504
        assert "request id" in response.text


def test_retries_go_to_the_next_server_then_all_down_is_503(tmp_path: Path) -> None:
    with (
        upstream("live") as up,
        gateway(
            tmp_path,
            f"""
        [upstream.api]
        servers = ["127.0.0.1:{dead_port()}", "127.0.0.1:{up.port}"]
        max_fails = 1
        fail_timeout = "30s"

        [[route]]
        path = "/{{rest:path}}"
        proxy = {{ upstream = "api", retries = 1 }}
    """,
        ) as url,
        httpx.Client(base_url=url) as client,
    ):
        for i in range(4):  # the refused server is skipped, never answered for
            assert echo(client.get(f"/{i}"))["server"] == "live"
    with gateway(
        tmp_path / "down",
        f"""
        [upstream.api]
        servers = ["127.0.0.1:{dead_port()}"]
        max_fails = 1
        fail_timeout = "30s"

        [[route]]
        path = "/{{rest:path}}"
        proxy = {{ upstream = "api", retries = 0 }}
    """,
    ) as url:
        assert httpx.get(url + "/").status_code == 502  # marks the only server down
        response = httpx.get(url + "/")
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0


def test_round_robin_spreads_requests_over_the_wire(tmp_path: Path) -> None:
    with (
        balanced(tmp_path, "round_robin", count=3) as (url, ups),
        httpx.Client(base_url=url) as client,
    ):
        names = [echo(client.get("/"))["server"] for _ in range(9)]
        assert sorted(names) == sorted("abc" * 3)
        assert [u.hits for u in ups] == [3, 3, 3]


def test_server_sent_events_flush_at_once(tmp_path: Path) -> None:
    with (
        to_upstream(tmp_path) as (up, url),
        httpx.stream("GET", url + "/events", timeout=10) as response,
    ):
        assert response.headers["content-type"] == "text/event-stream"
        lines = response.iter_lines()
        assert next(lines) == "data: one"  # before the upstream sends the second
        up.release.set()
        assert [line for line in lines if line] == ["data: two"]


def test_the_access_log_names_the_upstream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        to_upstream(tmp_path, log="common") as (up, url),
    ):
        httpx.get(url + "/logged")
    line = next(x for x in capsys.readouterr().err.splitlines() if "/logged" in x)
    assert '"GET /logged HTTP/1.1" 200 ' in line
    assert f" upstream=127.0.0.1:{up.port} 200 0.0" in line


def test_request_with_bad_framing_is_not_sent_upstream(tmp_path: Path) -> None:
    with (
        to_upstream(tmp_path, every_method=True) as (up, url),
    ):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n"
                b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n"
            )
            assert sock.recv(100).startswith(b"HTTP/1.1 400")
        assert up.hits == 0


def test_active_health_checks_take_a_server_out_and_back(tmp_path: Path) -> None:
    with (
        upstream("a") as a,
        upstream("b") as b,
        gateway(
            tmp_path,
            f"""
        [upstream.api]
        servers = ["127.0.0.1:{a.port}", "127.0.0.1:{b.port}"]
        health = {{ path = "/healthz", interval = "50ms", timeout = "50ms", fails = 1, passes = 1 }}

        [[route]]
        path = "/{{rest:path}}"
        proxy = {{ upstream = "api" }}
    """,
        ) as url,
        httpx.Client(base_url=url) as client,
    ):

        def served_by() -> set[str]:
            return {echo(client.get("/"))["server"] for _ in range(4)}

        assert wait_for(lambda: served_by() == {"a", "b"})
        b.healthy = False
        assert wait_for(lambda: all(served_by() == {"a"} for _ in range(3)))
        b.healthy = True
        assert wait_for(lambda: served_by() == {"a", "b"})


def test_a_client_that_stops_reading_is_closed_after_the_write_timeout(tmp_path: Path) -> None:
    with (
        to_upstream(tmp_path, server='timeouts = { write = "300ms" }') as (up, url),
    ):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(b"GET /endless HTTP/1.1\r\nhost: x\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
            # Read nothing more: the gateway's output stalls, its write clock runs out, and
            # it drops both connections (the upstream sees its response cut off).
            assert up.gave_up.wait(10)
            received = 0
            with contextlib.suppress(ConnectionResetError):
                while data := sock.recv(1 << 20):
                    received += len(data)
            assert received < ENDLESS  # closed mid-body, not sent whole


def test_keyed_balance_sends_one_key_to_one_server(tmp_path: Path) -> None:
    with (
        balanced(tmp_path, "header:X-User", count=3) as (url, _),
        httpx.Client(base_url=url) as client,
    ):

        def server_for(user: str) -> set[str]:
            return {echo(client.get("/", headers={"x-user": user}))["server"] for _ in range(3)}

        picks = [server_for(f"user-{i}") for i in range(12)]
        assert all(len(pick) == 1 for pick in picks)  # sticky per key
        assert len(set().union(*picks)) >= 2  # and keys spread over the servers
