"""Balance policies over the wire, through `gateway serve` to real upstreams: least_conn
and random_two send new requests away from a server busy with a slow one, random_two still
spreads idle traffic, ip_hash keeps a client on one server; and a slowloris upstream (its
head dribbled a byte at a time) gets a 504 on time while other requests go on."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.proxy.support import balanced, serving
from tests.proxy.upstream import Origin, read_request, upstream
from tests.support import wait_for


def names(client: httpx.Client, count: int) -> list[str]:
    return [client.get("/").json()["server"] for _ in range(count)]


@pytest.mark.parametrize("policy", ["least_conn", "random_two"])
def test_a_busy_server_gets_no_new_requests(tmp_path: Path, policy: str) -> None:
    with balanced(tmp_path, policy) as (url, ups), httpx.Client(base_url=url) as client:
        slow = threading.Thread(target=lambda: httpx.get(f"{url}/stall", timeout=10))
        slow.start()
        wait_for(lambda: sum(u.hits for u in ups) == 1, timeout=5)
        busy = next(u for u in ups if u.hits == 1)
        idle = next(u for u in ups if u is not busy)
        assert set(names(client, 6)) == {idle.name}  # the busy one holds a request
        busy.release.set()
        slow.join(10)
        if policy == "random_two":  # idle again: both servers get requests
            assert set(names(client, 40)) == {"a", "b"}


def test_ip_hash_keeps_a_client_on_one_server(tmp_path: Path) -> None:
    with balanced(tmp_path, "ip_hash", count=3) as (url, ups), httpx.Client(base_url=url) as client:
        assert len(set(names(client, 12))) == 1
        assert sorted(u.hits for u in ups) == [0, 0, 12]


def dribble_head(conn: socket.socket) -> None:
    """A slowloris upstream: its response head one byte every 50 ms, never finished in
    time; bytes keep coming, so only a deadline from the request (not from the last byte)
    stops it."""
    if read_request(conn, bytearray()) is None:
        return
    pause = threading.Event()
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 200:
        try:
            conn.sendall(bytes([byte]))
        except OSError:
            return
        pause.wait(0.05)


def test_a_slowloris_upstream_is_504_on_time_and_nothing_else_waits(tmp_path: Path) -> None:
    slow = Origin(dribble_head)
    try:
        with upstream() as fast:
            config = f"""
                [[route]]
                path = "/slow"
                proxy = {{ url = "http://127.0.0.1:{slow.port}", timeout = "500ms", retries = 0 }}

                [[route]]
                path = "/fast"
                proxy = "http://127.0.0.1:{fast.port}"
                """
            with serving(tmp_path, config) as running:
                got: list[httpx.Response] = []
                began = time.monotonic()
                thread = threading.Thread(
                    target=lambda: got.append(httpx.get(f"{running.url}/slow", timeout=10))
                )
                thread.start()
                for _ in range(5):  # meanwhile the loop answers others at once
                    assert httpx.get(f"{running.url}/fast", timeout=2).status_code == 200
                thread.join(10)
                elapsed = time.monotonic() - began
                assert got and got[0].status_code == 504 and "500ms" not in got[0].text
                assert "no response within 0.5s" in got[0].text
                assert 0.45 <= elapsed < 3
    finally:
        slow.close()
