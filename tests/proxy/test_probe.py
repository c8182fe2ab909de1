"""Active health checks on a fake loop: the request each check sends, pass/fail by status,
timeout and refusal, thresholds, the schedule, and stop()."""

from __future__ import annotations

import logging

import pytest

from gateway.proxy.config import server_address
from gateway.proxy.pool import Upstream
from gateway.proxy.probe import HealthChecks
from gateway.proxy.spec import HealthSpec, UpstreamSpec
from tests.proxy.fakes import FakeLoop, FakeTransport, parser_factory

CHECKS = HealthSpec(path="/healthz", interval=5.0, timeout=1.0, fails=2, passes=1)


def rig(checks: HealthSpec = CHECKS) -> tuple[FakeLoop, Upstream, HealthChecks]:
    loop = FakeLoop()
    spec = UpstreamSpec(
        "api", (server_address("127.0.0.1:9001"), server_address("[::1]:9002")), health=checks
    )
    upstream = Upstream(spec)
    runner = HealthChecks(loop, upstream, parser_factory())
    runner.start()
    return loop, upstream, runner


def answer(transport: FakeTransport, status: int) -> None:
    transport.made()
    transport.protocol.data_received(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())


def test_each_server_gets_a_get_of_the_path() -> None:
    loop, _, _ = rig()
    assert [address for address, _ in loop.dials] == [("127.0.0.1", 9001), ("::1", 9002)]
    transport = loop.dials[1][1]
    transport.made()
    assert transport.take() == (
        b"GET /healthz HTTP/1.1\r\nhost: [::1]:9002\r\nuser-agent: gateway-health-check\r\nconnection: close\r\n\r\n"
    )


def test_failures_then_a_pass(caplog: pytest.LogCaptureFixture) -> None:
    loop, upstream, _ = rig()
    caplog.set_level(logging.WARNING, "gateway.proxy")
    answer(loop.dials[0][1], 503)
    answer(loop.dials[1][1], 200)
    assert upstream.health.up(loop.now) == [0, 1]  # one failure is not enough (fails = 2)
    loop.advance(5)
    assert len(loop.dials) == 4
    answer(loop.dials[2][1], 500)
    answer(loop.dials[3][1], 204)
    assert upstream.health.up(loop.now) == [1]
    assert (
        "upstream 'api' server 127.0.0.1:9001 is down (health check: answered 500)" in caplog.text
    )
    loop.advance(5)
    answer(loop.dials[4][1], 301)  # 3xx passes
    assert upstream.health.up(loop.now) == [0, 1]
    assert "127.0.0.1:9001 is up again" in caplog.text
    assert all(t.closing for _, t in loop.dials[:5])


def test_timeout_and_refusal_fail() -> None:
    loop, upstream, _ = rig()
    for _ in range(2):
        loop.dials[-2][1].made()  # connected, never answers
        loop.dials[-1][1].refuse(ConnectionRefusedError(111, "Connection refused"))
        loop.advance(1.5)
        assert loop.dials[-2][1].aborted
        loop.advance(3.5)
    assert upstream.health.up(loop.now) == []


def test_a_check_still_out_is_not_doubled_and_stop_ends_it_all() -> None:
    loop, _, runner = rig(HealthSpec(path="/", interval=1.0, timeout=1.0))
    loop.advance(0.5)
    assert len(loop.dials) == 2
    runner.stop()
    assert all(t.aborted for _, t in loop.dials)
    loop.advance(10)
    assert len(loop.dials) == 2 and loop.live_timers() == 0


def test_no_health_table_no_checks() -> None:
    loop = FakeLoop()
    upstream = Upstream(UpstreamSpec("api", (server_address("127.0.0.1:1"),)))
    HealthChecks(loop, upstream, parser_factory()).start()
    assert loop.dials == [] and loop.timers == []
