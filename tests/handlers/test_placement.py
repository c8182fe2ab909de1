"""Where handler calls run: a route with no flag starts on the pool, moves to the loop once
it has answered fast PROBATION_CALLS times in a row, goes back to the pool when a call on
the loop passes `inline_limit`, and stays there for good (logged) the second time; `blocking = true` keeps a route on
the pool, `inline = true` on the loop. A blocking handler never holds up other connections."""

from __future__ import annotations

import logging
import socket
import threading

import httpx
import pytest

from gateway.placement import PROBATION_CALLS, STRIKES, Placement
from gateway.response import FileBody, Response
from tests.support import wait_for

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    inline_limit = "20ms"

    [[route]]
    path = "/auto"
    handler = "api.where:thread"

    [[route]]
    path = "/blocking"
    handler = "api.where:thread"
    blocking = true

    [[route]]
    path = "/inline"
    handler = "api.where:thread"
    inline = true

    [[route]]
    path = "/sleepy"
    handler = "api.where:sleepy"

    [[route]]
    path = "/waits"
    handler = "api.where:waits"
"""

WHERE = """
    import socket, threading, time

    def thread(request):
        seconds = float(request.query.get("sleep", "0"))
        if seconds:
            time.sleep(seconds)
        return threading.current_thread().name

    def sleepy(request):
        time.sleep(0.03)  # past half the limit: never trusted with the loop
        return threading.current_thread().name

    def waits(request):
        # Blocks on a socket the test holds, like a slow database call.
        with socket.create_connection(("127.0.0.1", int(request.query["port"]))) as peer:
            peer.recv(1)
        return threading.current_thread().name
"""

LOOP = "gateway-test-server"  # the name tests.support gives the server's loop thread


@pytest.fixture
def server(site):
    return site(SITE, {"api/__init__.py": "", "api/where.py": WHERE})


def test_the_limit_is_read_from_the_config(server):
    from gateway.targets import HandlerTarget

    assert server.server.app.config.server.inline_limit == 0.02
    targets = {row.target for row in server.server.app.rows}
    assert {
        "api.where:thread",
        "api.where:thread (blocking)",
        "api.where:thread (inline)",
    } <= targets
    assert HandlerTarget("x").placement.inline is False  # built bare: the pool


def test_a_fast_handler_moves_to_the_loop(client):
    first = client.get("/auto").text
    assert first.startswith("gateway-handler-")  # on probation: the pool
    wait_for(lambda: client.get("/auto").text == LOOP, timeout=5, interval=0)


def test_blocking_true_stays_on_the_pool_and_inline_true_on_the_loop(client):
    names = {client.get("/blocking").text for _ in range(PROBATION_CALLS * 2)}
    assert all(name.startswith("gateway-handler-") for name in names)
    assert client.get("/inline").text == LOOP


def test_a_slow_handler_never_runs_on_the_loop(client):
    names = {client.get("/sleepy").text for _ in range(PROBATION_CALLS + 2)}
    assert all(name.startswith("gateway-handler-") for name in names), names


def test_a_handler_that_blocks_on_the_loop_moves_to_the_pool_and_says_so(client, caplog):
    with caplog.at_level(logging.INFO, logger="gateway.app"):
        for _ in range(STRIKES):
            wait_for(lambda: client.get("/auto").text == LOOP, timeout=5, interval=0)
            assert client.get("/auto", params={"sleep": "0.05"}).text == LOOP  # a stall
    assert any("runs on the handler pool from now on" in r.getMessage() for r in caplog.records)
    assert "api.where:thread" in caplog.text
    names = {client.get("/auto").text for _ in range(PROBATION_CALLS * 2)}
    assert all(name.startswith("gateway-handler-") for name in names)  # for good


def test_a_blocked_handler_does_not_hold_up_other_connections(server, client):
    """The handler waits on a socket only the test can release: another connection is
    answered meanwhile (were the handler on the loop, that request would wait for it)."""
    with socket.create_server(("127.0.0.1", 0)) as gate:
        port = gate.getsockname()[1]
        result: dict[str, str] = {}
        waiting = threading.Thread(
            target=lambda: result.update(name=client.get("/waits", params={"port": port}).text)
        )
        waiting.start()
        gate.settimeout(10)
        peer, _ = gate.accept()  # the handler is running, and blocked
        with peer, httpx.Client(base_url=server.url, timeout=10) as other:
            assert other.get("/inline").text == LOOP
            assert "name" not in result
            peer.sendall(b"x")
        waiting.join(10)
    assert result["name"].startswith("gateway-handler-")


# -- Placement on its own -----------------------------------------------------------------


def test_probation_needs_fast_calls_in_a_row():
    placement = Placement("m:f", "auto", limit=0.01)
    for _ in range(PROBATION_CALLS - 1):
        placement.pooled(0.001, True)
    placement.pooled(0.009, True)  # under the limit, but not under half of it: starts over
    for _ in range(PROBATION_CALLS - 1):
        placement.pooled(0.001, True)
    assert not placement.inline
    placement.pooled(0.001, True)
    assert placement.inline


def test_a_streaming_handler_stays_on_the_pool():
    placement = Placement("m:f", "auto", limit=0.01)
    placement.pooled(0.0, False)
    for _ in range(PROBATION_CALLS * 2):
        placement.pooled(0.0, True)
    assert not placement.inline


def test_on_the_loop_a_slow_call_sends_it_back_to_probation_and_a_second_for_good():
    placement = Placement("m:f", "auto", limit=0.01)
    for strike in range(STRIKES):
        for _ in range(PROBATION_CALLS):
            placement.pooled(0.0, True)
        placement.ran_inline(0.009, True)
        assert placement.inline
        placement.ran_inline(0.02, True)
        assert not placement.inline
        assert placement.adaptive is (strike < STRIKES - 1)
    for _ in range(PROBATION_CALLS * 2):
        placement.pooled(0.0, True)
    assert not placement.inline


def test_on_the_loop_a_stream_moves_it_back_for_good():
    for elapsed, plain in ((0.0, False),):
        placement = Placement("m:f", "auto", limit=0.01)
        for _ in range(PROBATION_CALLS):
            placement.pooled(0.0, True)
        placement.ran_inline(elapsed, plain)
        assert not placement.inline and not placement.adaptive
        for _ in range(PROBATION_CALLS * 2):
            placement.pooled(0.0, True)
        assert not placement.inline


def test_fixed_modes_never_move():
    inline = Placement("m:f", "inline")
    pool = Placement("m:f", "pool")
    for _ in range(PROBATION_CALLS * 2):
        inline.ran_inline(1.0, False)
        pool.pooled(0.0, True)
    assert inline.inline and not pool.inline
    with pytest.raises(ValueError, match="'fast'"):
        Placement("m:f", "fast")


def test_plain_bodies():
    from gateway.placement import plain_body

    assert plain_body(Response(200, b"x"))
    assert plain_body(Response(200, FileBody(0, 0, 0)))
    assert not plain_body(Response(200, iter([b"x"])))


def test_a_call_holds_its_thread_for_its_waits_and_its_work():
    """held(): a sleep counts (a voluntary switch), and so does computing; only time the
    OS gave to other processes is left out (not reproducible here, so not tested)."""
    import time

    placement = Placement("m:f", "auto", limit=0.01)
    started = placement.clock()
    time.sleep(0.02)  # the thing measured, not a wait for a condition
    assert placement.held(started) >= 0.02
    started = placement.clock()
    deadline = time.thread_time() + 0.03  # CPU, not wall time: a loaded machine preempts
    while time.thread_time() < deadline:
        pass
    assert placement.held(started) >= 0.01
    started = placement.clock()
    assert placement.held(started) < 0.005
