"""The response cache (server/responses.py): answers to fixed routes and whole static files
kept by the exact request head. A repeat is answered from it, and every change is seen at
once: a file edited, replaced, truncated or deleted, a new config, a new Date second, a
head that differs by one byte; conditional, ranged and CORS requests and
servers with a json access log never use it (Accept-Encoding:
test_cache_accept_encoding.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.app import build_app
from gateway.config.load import load_config
from tests.support import ResponseReader, connect, wait_for

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [[static]]
    prefix = "/"
    dir = "public"

    [[route]]
    path = "/fixed"
    respond = { json = { hello = "w" } }

    [[route]]
    path = "/count"
    handler = "count:next_one"
    inline = true
"""
COUNT = """
import itertools
COUNTER = itertools.count()

def next_one(request):
    return str(next(COUNTER))
"""
HEAD = b"GET %s HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n"


@pytest.fixture
def server(site):
    return site(SITE, {"public/a.txt": "first version\n", "count.py": COUNT})


@pytest.fixture
def ask(server):
    """ask(path, head=HEAD) -> RawResponse, on one keep-alive connection."""
    with connect(server.port) as sock:
        reader = ResponseReader(sock)

        def ask(path: str, head: bytes = HEAD):
            sock.sendall(head.replace(b"%s", path.encode()))
            return reader.read()

        yield ask


def hits(server) -> int:
    return server.server.ctx.responses.hits


def public(tmp_path: Path) -> Path:
    return tmp_path / "public" / "a.txt"


def test_a_repeated_head_is_answered_from_the_cache(server, ask):
    first = ask("/a.txt")
    for _ in range(3):
        again = ask("/a.txt")
        assert (again.status, again.raw_head, again.body) == (200, first.raw_head, first.body)
    assert ask("/fixed").body == b'{"hello":"w"}'
    assert ask("/fixed").body == b'{"hello":"w"}'
    assert hits(server) >= 3  # (a Date second may roll over between two of them)


def test_a_handler_is_called_every_time(server, ask):
    assert [ask("/count").body for _ in range(3)] == [b"0", b"1", b"2"]


def test_a_file_edited_replaced_truncated_or_deleted_is_seen_at_once(server, ask, tmp_path):
    path = public(tmp_path)
    ask("/a.txt"), ask("/a.txt")
    path.write_text("edited, longer than the first version\n")  # same inode, new size
    assert ask("/a.txt").body == b"edited, longer than the first version\n"
    fresh = path.with_name("new.txt")
    fresh.write_text("replaced\n")
    os.replace(fresh, path)  # a new inode
    assert ask("/a.txt").body == b"replaced\n"
    ask("/a.txt")
    with open(path, "r+b") as f:
        f.truncate(3)
    truncated = ask("/a.txt")
    assert (truncated.body, truncated.headers["content-length"]) == (b"rep", "3")
    path.unlink()
    assert ask("/a.txt").status == 404


def test_an_edit_that_keeps_size_and_inode_is_seen(server, ask, tmp_path):
    path = public(tmp_path)
    ask("/a.txt"), ask("/a.txt")
    path.write_text("FIRST VERSION\n")
    stamp = path.stat().st_mtime_ns + 2_000_000_000  # coarse clocks: make mtime move
    os.utime(path, ns=(stamp, stamp))
    assert ask("/a.txt").body == b"FIRST VERSION\n"


def test_a_head_one_byte_different_is_answered_for_itself(server, ask, tmp_path):
    ask("/a.txt"), ask("/a.txt")
    other = ask("/a.txt", HEAD.replace(b"User-Agent: t", b"User-Agent: u"))
    assert other.status == 200
    closing = ask("/a.txt", HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    assert closing.headers.get("connection") == "close"


@pytest.mark.parametrize(
    "extra",
    [
        b"Range: bytes=0-2",
        b"If-None-Match: *",
        b"Origin: http://o.example",
    ],
)
def test_per_request_headers_are_never_answered_from_it(server, ask, extra):
    head = HEAD.replace(b"\r\n\r\n", b"\r\n" + extra + b"\r\n\r\n")
    before = hits(server)
    answers = [ask("/a.txt", head) for _ in range(3)]
    assert hits(server) == before
    if extra.startswith(b"Range"):
        assert [a.status for a in answers] == [206] * 3
    if extra.startswith(b"If-None-Match"):
        assert [a.status for a in answers] == [304] * 3


def test_a_new_date_second_gets_a_new_date(server, ask):
    first = ask("/fixed").headers["date"]
    wait_for(lambda: ask("/fixed").headers["date"] != first, timeout=5, interval=0.05)


def test_a_new_config_is_served_at_once(server, ask, tmp_path):
    ask("/fixed"), ask("/fixed")
    config = tmp_path / "gateway.toml"
    config.write_text(config.read_text().replace('hello = "w"', 'hello = "v2"'))
    app = build_app(load_config(config))
    loop = server.server.loop
    loop.call_soon_threadsafe(lambda: server.server.swap_app(app))
    wait_for(lambda: ask("/fixed").body == b'{"hello":"v2"}', timeout=5)


def test_a_json_logging_server_never_uses_it(site, tmp_path):
    """A json access log line names each request's id, which only the long way makes (a
    common or combined line is written for a hit from its head: test_cache_access_log)."""
    running = site(
        SITE.replace('access_log = "off"', 'access_log = "json"'),
        {"public/a.txt": "x", "count.py": COUNT},
    )
    with connect(running.port) as sock:
        reader = ResponseReader(sock)
        for _ in range(3):
            sock.sendall(HEAD.replace(b"%s", b"/a.txt"))
            assert reader.read().status == 200
    assert running.server.ctx.responses.hits == 0


def _counts(server) -> dict:
    """{route: requests by (method, class)} as a scrape sees them: the snapshot is taken
    on the loop thread, as the metrics endpoint takes it (hits are added to it then)."""
    snapshots: list = []
    server.loop.call_soon_threadsafe(lambda: snapshots.append(server.ops.metrics.snapshot()))
    wait_for(lambda: snapshots, timeout=5)
    metrics = server.ops.metrics
    return {route: dict(stats.requests) for route, stats in metrics.routes.items()}


def test_with_metrics_hits_are_counted_like_answers_the_long_way(site):
    """Metrics keep the cache on (serve_app given the server's Ops, as serve.py does with
    reports/perf2-serve.py.patch): each hit counts under its route's label, method, status
    class and body bytes, exactly what the same requests count with the cache off."""
    running = site(
        SITE.replace('access_log = "off"', 'access_log = "off"\nmetrics = "/__m"'),
        {"public/a.txt": "first version\n", "count.py": COUNT},
    )
    server = running.server
    cache = server.ctx.responses
    done = []
    server.loop.call_soon_threadsafe(
        lambda: done.append(cache.serve_app(server.app, False, server.ops))
    )
    wait_for(lambda: done, timeout=5)
    assert cache.enabled and cache.counting
    before = server.ops.metrics.bytes_out
    with connect(running.port) as sock:
        reader = ResponseReader(sock)
        for path in (b"/a.txt", b"/fixed") * 4:
            sock.sendall(HEAD.replace(b"%s", path))
            assert reader.read().status == 200
    assert cache.hits >= 4  # (a Date second may roll over between two of them)
    counts = _counts(server)
    file_route = next(r for r in counts if r != "/fixed")
    assert counts["/fixed"] == {("GET", 2): 4}
    assert counts[file_route] == {("GET", 2): 4}
    assert server.ops.metrics.bytes_out - before == 4 * (len(b"first version\n") + 13)
    assert sum(server.ops.metrics.routes["/fixed"].buckets) == 4  # a latency for each


def test_hits_of_entries_dropped_at_a_new_second_are_still_counted(site):
    running = site(
        SITE.replace('access_log = "off"', 'access_log = "off"\nmetrics = "/__m"'),
        {"public/a.txt": "x", "count.py": COUNT},
    )
    server = running.server
    cache = server.ctx.responses
    done: list = []
    server.loop.call_soon_threadsafe(
        lambda: done.append(cache.serve_app(server.app, False, server.ops))
    )
    wait_for(lambda: done, timeout=5)
    sent = 0
    with connect(running.port) as sock:
        reader = ResponseReader(sock)

        def ask() -> str:
            nonlocal sent
            sock.sendall(HEAD.replace(b"%s", b"/fixed"))
            sent += 1
            return reader.read().headers["date"]

        first = ask()
        ask()
        wait_for(lambda: ask() != first, timeout=5, interval=0.05)  # the entry was dropped
        ask()
    assert cache.hits >= 2
    assert _counts(server)["/fixed"] == {("GET", 2): sent}


def test_without_metrics_a_hit_counts_nothing(server, ask):
    ask("/fixed"), ask("/fixed"), ask("/fixed")
    assert hits(server) >= 1 and not server.server.ctx.responses.counting
    assert server.server.ops.metrics.routes == {}
