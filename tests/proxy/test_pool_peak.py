"""The idle pool under concurrent load: it keeps as many connections as were in flight at once
since the last sweep (when more than max_idle), so a load near the limit reuses them instead
of closing and reopening one per request; the sweep trims back to max_idle once the load has
gone, oldest first; max_idle = 0 still turns reuse off."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx

from gateway.http.response import ResponseParser
from gateway.proxy.connection import State, UpstreamConnection
from gateway.proxy.pool import ServerPool
from gateway.proxy.spec import KeepaliveSpec, ServerAddress
from tests.proxy.fakes import FakeTransport
from tests.proxy.support import serving
from tests.proxy.upstream import Origin, read_request

SERVER = ServerAddress("127.0.0.1", 9)


def idle_conn() -> UpstreamConnection:
    conn = UpstreamConnection(SERVER, ResponseParser())
    conn.transport = FakeTransport()  # type: ignore[assignment]
    conn.state = State.IDLE
    conn.requests = 1
    return conn


def busy(pool: ServerPool, count: int) -> None:
    for _ in range(count):  # as ProxyExchange._attempt counts a request in
        pool.active += 1
        pool.peak = max(pool.peak, pool.active)


def test_a_burst_keeps_its_connections_until_two_sweeps_after_it() -> None:
    pool = ServerPool(SERVER, KeepaliveSpec(max_idle=2))
    busy(pool, 4)
    conns = [idle_conn() for _ in range(4)]
    for conn in conns:
        pool.active -= 1
        pool.put(conn, 0.0)
    assert list(pool.idle) == conns  # all four: the load needed four at once
    pool.sweep(1.0)
    assert len(pool.idle) == 4  # the peak since the last sweep was still four
    busy(pool, 1)
    pool.sweep(2.0)  # the load was one request since: back to max_idle, oldest closed
    assert list(pool.idle) == conns[2:]
    assert all(c.state is State.CLOSED for c in conns[:2])


def test_without_a_burst_max_idle_bounds_the_pool() -> None:
    pool = ServerPool(SERVER, KeepaliveSpec(max_idle=2))
    conns = [idle_conn() for _ in range(3)]
    for conn in conns:
        busy(pool, 1)
        pool.active -= 1
        pool.put(conn, 0.0)
    assert list(pool.idle) == conns[:2] and conns[2].state is State.CLOSED


def test_max_idle_zero_is_still_no_reuse() -> None:
    pool = ServerPool(SERVER, KeepaliveSpec(max_idle=0))
    busy(pool, 3)
    conn = idle_conn()
    pool.put(conn, 0.0)
    assert not pool.idle and conn.state is State.CLOSED


def get(url: str, answers: list[int]) -> None:
    answers.append(httpx.get(f"{url}/x", timeout=10).status_code)


def test_concurrent_requests_reuse_their_connections_over_the_wire(tmp_path: Path) -> None:
    """Four requests at once through an upstream with max_idle = 1, twice: the second four
    go out on the first four's connections (before, three were closed and reopened)."""
    together = threading.Barrier(4, timeout=10)

    def origin(conn: socket.socket) -> None:
        buf = bytearray()
        while read_request(conn, buf) is not None:
            together.wait()  # all four requests are in flight at once
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    upstream = Origin(origin)
    config = f"""
        [upstream.api]
        servers = ["127.0.0.1:{upstream.port}"]
        keepalive = {{ max_idle = 1 }}

        [[route]]
        path = "/{{rest:path}}"
        proxy = {{ upstream = "api" }}
        """
    try:
        with serving(tmp_path, config) as running:
            for _ in range(2):
                answers: list[int] = []
                threads = [
                    threading.Thread(target=get, args=(running.url, answers)) for _ in range(4)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert answers == [200] * 4
        assert upstream.accepted == 4
    finally:
        upstream.close()
