"""Prefork aggregation through SharedDir, with real processes: two workers publish, a third
process answers the scrape with its live counters plus theirs; an exited worker's counters
stay in the totals (retired), its gauges do not."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from gateway.metrics import Metrics, SharedDir, render

parser = pytest.importorskip("prometheus_client.parser", reason="prometheus-client parses")

WORKER = textwrap.dedent(
    """
    import sys
    from gateway.metrics import Metrics, SharedDir
    directory, count = sys.argv[1], int(sys.argv[2])
    m = Metrics()
    m.sample = lambda: {"open_connections": count}
    for _ in range(count):
        m.observe("/api", "GET", 200, 0.003, bytes_in=1, bytes_out=10)
    SharedDir(directory).publish(m)
    print("published", flush=True)
    sys.stdin.read()  # stay alive (a live worker) until the test closes stdin
    """
)


def samples(text):
    found = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def requests(found):
    return found[
        ("gateway_requests_total", (("code", "2xx"), ("method", "GET"), ("route", "/api")))
    ]


@pytest.fixture
def shared():
    directory = SharedDir.create()
    yield directory
    directory.remove()


def start_worker(shared, count):
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(shared.path), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "published"
    return proc


def stop(proc):
    proc.stdin.close()
    proc.wait(10)


def test_a_scrape_adds_every_worker_up(shared):
    one, two = start_worker(shared, 3), start_worker(shared, 4)
    try:
        me = Metrics()
        me.sample = lambda: {"open_connections": 1}
        me.observe("/api", "GET", 200, 0.003)
        found = samples(render(shared.collect(me)))
        assert requests(found) == 8
        assert found[("gateway_request_duration_seconds_count", (("route", "/api"),))] == 8
        assert found[("gateway_sent_bytes_total", ())] == 70
        assert found[("gateway_open_connections", ())] == 8
        assert found[("gateway_workers", ())] == 3
    finally:
        stop(one)
        stop(two)


def test_an_exited_worker_keeps_its_counts_but_not_its_gauges(shared):
    one, two = start_worker(shared, 3), start_worker(shared, 4)
    stop(two)  # its file is still there, its pid gone: counted as retired
    try:
        me = Metrics()
        found = samples(render(shared.collect(me)))
        assert requests(found) == 7
        assert found[("gateway_open_connections", ())] == 3
        assert found[("gateway_workers", ())] == 2
        shared.retire(two.pid)  # what the master does after wait()
        assert not (shared.path / f"{two.pid}.json").exists()
        again = samples(render(shared.collect(me)))
        assert requests(again) == 7
        assert again[("gateway_open_connections", ())] == 3
    finally:
        stop(one)


def test_retiring_twice_accumulates(shared):
    for count in (2, 5):
        proc = start_worker(shared, count)
        stop(proc)
        shared.retire(proc.pid)
    shared.retire(999_999_999)  # no file: nothing happens
    found = samples(render(shared.collect(Metrics())))
    assert requests(found) == 7
    assert found[("gateway_workers", ())] == 1
    assert "gateway_open_connections" not in {name for name, _ in found}


def test_maybe_publish_writes_at_most_once_an_interval(shared):
    m = Metrics()
    now = time.monotonic()
    shared.maybe_publish(m, now)
    path = shared.path / f"{os.getpid()}.json"
    first = path.stat().st_mtime_ns
    m.observe("/a", "GET", 200, 0.001)
    shared.maybe_publish(m, now + 0.5)
    assert path.stat().st_mtime_ns == first
    assert b"/a" not in path.read_bytes()
    shared.maybe_publish(m, now + 1.0)
    assert b"/a" in path.read_bytes()
    shared.remove()
    shared.maybe_publish(m, now + 5.0)  # the master removed the directory: no error
