"""The proxy exchange against fake transports and a hand-driven clock: what is sent upstream,
what the client gets, pooling and the stale-connection retry, retries only where safe,
502/503/504 with their reasons, timeouts, backpressure both ways, 1xx and 101."""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway.http.headers import Headers
from gateway.proxy.config import server_address
from gateway.proxy.exchange import ProxyExchange
from gateway.proxy.headers import Client
from gateway.proxy.pool import Upstream
from gateway.proxy.request import ProxyRequest
from gateway.proxy.spec import KeepaliveSpec, ProxySpec, UpstreamSpec
from tests.proxy.fakes import FakeDownstream, FakeLoop, FakeTransport, parser_factory

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
ALICE = Client("203.0.113.7")


class Rig:
    """An upstream of `servers` on a fake loop; `send()` starts an exchange."""

    def __init__(self, *servers: str, **spec: Any) -> None:
        self.loop = FakeLoop()
        addresses = tuple(server_address(s) for s in servers or ("127.0.0.1:9001",))
        self.upstream = Upstream(UpstreamSpec("api", addresses, **spec))
        self.parser = parser_factory()

    def send(
        self,
        method: str = "GET",
        target: str = "/api/items?x=1",
        fields: list[tuple[str, str]] | None = None,
        content_length: int | None = None,
        chunked: bool = False,
        **rules: Any,
    ) -> tuple[ProxyExchange, FakeDownstream]:
        rules.setdefault("upstream", "api")
        request = ProxyRequest(
            method,
            target,
            Headers(fields or [("host", "example.com")]),
            ALICE,
            content_length,
            chunked,
        )
        down = FakeDownstream()
        exchange = ProxyExchange(
            self.loop, self.upstream, ProxySpec(**rules), request, down, self.parser
        )
        exchange.start()
        return exchange, down

    def dial(self, index: int = -1) -> FakeTransport:
        """The transport of a pending dial, connected."""
        transport = self.loop.dials[index][1]
        transport.made()
        return transport

    def answer(self, transport: FakeTransport, data: bytes) -> None:
        transport.protocol.data_received(data)


def no_timers_left(rig: Rig) -> bool:
    """No exchange is watched, and the deadline sweep stops at its next turn."""
    if len(rig.upstream.deadlines or ()) != 0:
        return False
    rig.loop.advance(1)
    return rig.loop.live_timers() == 0


def test_get_is_sent_and_the_response_relayed_and_the_connection_pooled() -> None:
    rig = Rig()
    ex, down = rig.send(strip_prefix="/api")
    assert rig.loop.dials[0][0] == ("127.0.0.1", 9001)
    up = rig.dial()
    sent = up.take()
    assert sent.startswith(b"GET /items?x=1 HTTP/1.1\r\nhost: example.com\r\n")
    assert b"x-forwarded-for: 203.0.113.7\r\n" in sent and b"via: 1.1 gateway\r\n" in sent
    assert sent.endswith(b"\r\n\r\n")
    rig.loop.advance(0.25)
    rig.answer(up, OK)
    assert (ex.server, ex.upstream_status, ex.upstream_time) == ("127.0.0.1:9001", 200, 0.25)
    assert down.calls == [("head", 200, "OK", [("content-length", "5")]), ("end", None)]
    assert down.body == b"hello"
    assert rig.upstream.pools[0].active == 0 and len(rig.upstream.pools[0].idle) == 1
    assert no_timers_left(rig)
    # the next request reuses the connection: no new dial
    _, down2 = rig.send()
    assert len(rig.loop.dials) == 1
    assert up.take().startswith(b"GET /api/items?x=1 HTTP/1.1\r\n")
    rig.answer(up, OK)
    assert down2.kinds() == ["head", "end"]


def test_connection_close_and_max_requests_are_not_pooled() -> None:
    rig = Rig(keepalive=KeepaliveSpec(max_idle=4, max_requests=2))
    rig.send()
    up = rig.dial()
    rig.answer(up, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert up.closing and not rig.upstream.pools[0].idle
    rig.send()
    up = rig.dial()
    rig.answer(up, OK)
    rig.send()
    rig.answer(up, OK)  # second request on it: max_requests reached
    assert up.closing and not rig.upstream.pools[0].idle


def test_more_than_content_length_is_not_passed_on_and_not_reused() -> None:
    rig = Rig()
    _, down = rig.send()
    up = rig.dial()
    rig.answer(up, OK + b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")
    assert down.body == b"hello" and down.kinds() == ["head", "end"]
    assert up.closing and not rig.upstream.pools[0].idle


def test_idle_timeout_and_sweep() -> None:
    rig = Rig(keepalive=KeepaliveSpec(max_idle=4, idle_timeout=30))
    rig.send()
    first = rig.dial()
    rig.answer(first, OK)
    rig.loop.advance(31)
    rig.send()
    assert len(rig.loop.dials) == 2 and first.closing  # too old: closed, a new one dialed
    second = rig.dial()
    rig.answer(second, OK)
    rig.loop.advance(31)
    rig.upstream.sweep(rig.loop.now)
    assert second.closing and not rig.upstream.pools[0].idle


def test_a_pooled_connection_closed_by_the_server_is_not_reused() -> None:
    rig = Rig()
    rig.send()
    up = rig.dial()
    rig.answer(up, OK)
    up.protocol.eof_received()  # the server closed it while idle
    rig.send()
    assert len(rig.loop.dials) == 2


def test_stale_pooled_connection_is_retried_once_on_a_fresh_one() -> None:
    rig = Rig(max_fails=1)
    rig.send()
    first = rig.dial()
    rig.answer(first, OK)
    ex, down = rig.send(
        "POST", "/api/items", [("host", "h"), ("content-length", "3")], content_length=3
    )
    ex.body(b"abc")
    ex.end_body()
    sent = first.take()
    assert sent.endswith(b"\r\n\r\nabc") and sent.count(b"content-length") == 1
    assert first.take() == b""
    first.protocol.eof_received()  # raced with the server's idle close: no byte came back
    assert len(rig.loop.dials) == 2 and rig.loop.dials[1][0] == ("127.0.0.1", 9001)
    fresh = rig.dial()
    assert fresh.take().endswith(b"\r\n\r\nabc")  # the body replayed
    rig.answer(fresh, OK)
    assert down.kinds() == ["head", "end"]
    assert rig.upstream.health.up(rig.loop.now) == [0]  # not counted as a server failure


def test_connect_refused_goes_to_the_next_server() -> None:
    rig = Rig("127.0.0.1:9001", "127.0.0.1:9002", max_fails=1)
    _ex, down = rig.send(retries=1)
    rig.loop.dials[0][1].refuse(ConnectionRefusedError(111, "Connection refused"))
    assert [d[0][1] for d in rig.loop.dials] == [9001, 9002]
    rig.answer(rig.dial(), OK)
    assert down.kinds() == ["head", "end"]
    assert rig.upstream.health.up(rig.loop.now) == [1]  # 9001 marked down (max_fails 1)


def test_retries_exhausted_is_502_naming_server_and_cause() -> None:
    rig = Rig("127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003")
    _ex, down = rig.send(retries=1)
    for _ in range(2):
        rig.loop.dials[-1][1].refuse(ConnectionRefusedError(111, "Connection refused"))
    assert len(rig.loop.dials) == 2  # one try and one retry
    failure = down.failure()
    assert (failure.status, failure.server) == (502, "127.0.0.1:9002")
    assert (
        failure.detail == "upstream 'api' server 127.0.0.1:9002: cannot connect: connection refused"
    )
    assert [p.active for p in rig.upstream.pools] == [0, 0, 0]


def test_post_with_a_body_sent_is_not_retried() -> None:
    rig = Rig("127.0.0.1:9001", "127.0.0.1:9002")
    ex, down = rig.send("POST", "/", [("host", "h")], content_length=2, retries=3)
    up = rig.dial()
    ex.body(b"hi")
    ex.end_body()
    up.protocol.eof_received()
    assert len(rig.loop.dials) == 1
    assert (
        down.failure().detail
        == "upstream 'api' server 127.0.0.1:9001: closed the connection before responding"
    )


def test_idempotent_without_body_is_retried_after_sending() -> None:
    rig = Rig("127.0.0.1:9001", "127.0.0.1:9002")
    _ex, down = rig.send("GET", retries=1)
    up = rig.dial()
    up.protocol.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
    assert len(rig.loop.dials) == 2
    rig.answer(rig.dial(), OK)
    assert down.kinds() == ["head", "end"]


def test_body_waiting_for_the_connect_is_sent_once_connected_and_may_be_retried() -> None:
    rig = Rig("127.0.0.1:9001", "127.0.0.1:9002")
    ex, _down = rig.send("POST", "/", [("host", "h")], content_length=4, retries=1)
    ex.body(b"da")
    ex.body(b"ta")
    ex.end_body()
    rig.loop.dials[0][1].refuse(ConnectionRefusedError(111, "Connection refused"))
    up = rig.dial()  # nothing had been sent: a POST may go to the next server
    assert up.take().endswith(b"content-length: 4\r\n\r\ndata")


def test_read_timeout_is_504_and_not_retried() -> None:
    rig = Rig("127.0.0.1:9001", "127.0.0.1:9002")
    _ex, down = rig.send(timeout=30.0, retries=2)
    up = rig.dial()
    rig.loop.advance(29)
    assert down.calls == []
    rig.loop.advance(1.5)
    failure = down.failure()
    assert (failure.status, failure.detail) == (
        504,
        "upstream 'api' server 127.0.0.1:9001: no response within 30s",
    )
    assert up.aborted and len(rig.loop.dials) == 1


def test_connect_timeout_tries_the_next_server() -> None:
    rig = Rig("127.0.0.1:9001", "127.0.0.1:9002", connect_timeout=2.0)
    _ex, down = rig.send(retries=1)
    rig.loop.advance(2.1)
    assert rig.loop.dials[0][1].aborted and len(rig.loop.dials) == 2
    rig.loop.advance(2.1)
    failure = down.failure()
    assert (failure.status, failure.detail) == (
        504,
        "upstream 'api' server 127.0.0.1:9002: connect timed out after 2s",
    )


def test_data_resets_the_read_timeout_and_a_stall_mid_body_aborts() -> None:
    rig = Rig()
    _ex, down = rig.send(timeout=10.0)
    up = rig.dial()
    rig.answer(up, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12")
    for _ in range(3):
        rig.loop.advance(9)
        rig.answer(up, b"3")
    assert down.kinds() == ["head"]
    rig.loop.advance(10.5)
    assert down.kinds() == ["head", "abort"]
    assert down.failure().status == 504


def test_empty_post_gets_content_length_zero() -> None:
    rig = Rig()
    rig.send("POST", "/", [("host", "h"), ("content-length", "0")], content_length=0)
    head = rig.dial().take()
    assert head.count(b"content-length") == 1 and b"content-length: 0\r\n" in head


def test_a_stale_retry_gets_the_connect_timeout_not_the_read_timeout() -> None:
    rig = Rig(connect_timeout=2.0)
    rig.send()
    up = rig.dial()
    rig.answer(up, OK)
    _, down = rig.send(timeout=30.0)
    up.protocol.eof_received()  # stale: a fresh dial follows, which never connects
    rig.loop.advance(2.5)
    assert (
        down.failure().detail == "upstream 'api' server 127.0.0.1:9001: connect timed out after 2s"
    )


def test_slow_client_does_not_time_out_the_upstream() -> None:
    rig = Rig()
    ex, down = rig.send(timeout=10.0)
    up = rig.dial()
    rig.answer(up, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12")
    ex.pause_response()
    assert not up.reading
    rig.loop.advance(60)
    assert down.kinds() == ["head"]
    ex.resume_response()
    assert up.reading
    rig.answer(up, b"34567890")
    assert down.kinds() == ["head", "end"]


def test_upstream_closing_mid_response_aborts_the_client() -> None:
    rig = Rig()
    _ex, down = rig.send()
    up = rig.dial()
    rig.answer(up, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12")
    up.protocol.eof_received()
    assert down.kinds() == ["head", "abort"]
    assert (
        down.failure().detail
        == "upstream 'api' server 127.0.0.1:9001: closed the connection mid-response"
    )
    assert rig.upstream.pools[0].active == 0


def test_malformed_response_is_502_and_not_retried() -> None:
    rig = Rig("127.0.0.1:9001", "127.0.0.1:9002")
    _ex, down = rig.send(retries=1)
    up = rig.dial()
    rig.answer(up, b"HTCPCP/1.0 418 teapot\r\n\r\n")
    assert up.aborted
    failure = down.failure()
    assert failure.status == 502 and "sent a malformed response" in failure.detail
    assert len(rig.loop.dials) == 1  # the server did answer: no second server acts on it


def test_all_servers_down_is_503_with_retry_after() -> None:
    rig = Rig("127.0.0.1:9001", "127.0.0.1:9002", max_fails=1, fail_timeout=20)
    rig.upstream.health.failed(0, rig.loop.now)
    rig.upstream.health.failed(1, rig.loop.now - 5)
    _ex, down = rig.send()
    failure = down.failure()
    assert (failure.status, failure.retry_after) == (503, 15)
    assert failure.detail == "upstream 'api': every server is down; try again in 15s"
    assert rig.loop.dials == []


def test_backpressure_upstream_full_pauses_the_client_body() -> None:
    rig = Rig()
    ex, down = rig.send("PUT", "/", [("host", "h")], content_length=300_000)
    up = rig.dial()
    up.high = 100_000
    for _ in range(3):
        ex.body(b"x" * 60_000)
    assert down.paused  # the upstream's buffer went over high water
    head = len(up.written) - 120_000  # two pieces went out before it filled
    ex.body(b"y" * 60_000)
    ex.body(b"z" * 60_000)  # held while the upstream is full
    assert len(up.written) == head + 120_000
    up.drain()
    assert len(up.written) == head + 300_000
    assert down.paused  # what was held filled the buffer again
    up.drain()
    assert not down.paused
    ex.end_body()
    rig.answer(up, OK)
    assert down.kinds()[-2:] == ["head", "end"]


def test_body_pending_before_connect_is_bounded() -> None:
    rig = Rig()
    ex, down = rig.send("PUT", "/", [("host", "h")], content_length=200_000)
    ex.body(b"a" * 50_000)
    assert not down.paused
    ex.body(b"b" * 50_000)
    assert down.paused
    up = rig.dial()
    assert not down.paused and up.take().endswith(b"a" * 50_000 + b"b" * 50_000)


def test_chunked_request_body_is_rechunked_with_trailers() -> None:
    rig = Rig()
    ex, _down = rig.send(
        "POST", "/", [("host", "h"), ("transfer-encoding", "chunked")], chunked=True
    )
    up = rig.dial()
    ex.body(b"hello")
    ex.end_body([("x-sum", "1")])
    sent = up.take()
    assert b"transfer-encoding: chunked\r\n" in sent
    assert sent.endswith(b"\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 1\r\n\r\n")
    assert sent.count(b"transfer-encoding") == 1


def test_early_response_before_the_body_is_done_closes_the_connection() -> None:
    rig = Rig()
    ex, down = rig.send("POST", "/", [("host", "h")], content_length=1000)
    up = rig.dial()
    ex.body(b"x" * 10)
    rig.answer(up, b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")
    assert down.kinds() == ["head", "end"] and up.closing
    assert not rig.upstream.pools[0].idle
    ex.body(b"more")  # ignored now
    assert up.take().endswith(b"x" * 10)


def test_informational_responses_are_passed_on() -> None:
    rig = Rig()
    _ex, down = rig.send()
    up = rig.dial()
    rig.answer(up, b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
    rig.answer(up, b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
    assert down.calls[0] == ("info", 103, [("link", "</a.css>; rel=preload")])
    assert down.calls[1] == ("info", 100, [])
    assert down.kinds()[2:] == ["head", "end"]


def test_head_response_keeps_content_length_without_a_body() -> None:
    rig = Rig()
    _ex, down = rig.send("HEAD")
    up = rig.dial()
    rig.answer(up, b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
    assert down.calls == [("head", 200, "OK", [("content-length", "1234")]), ("end", None)]
    assert len(rig.upstream.pools[0].idle) == 1


def test_cancel_drops_the_upstream_connection() -> None:
    rig = Rig()
    ex, _down = rig.send()
    up = rig.dial()
    ex.cancel()
    assert up.aborted and rig.upstream.pools[0].active == 0 and no_timers_left(rig)


WS = [
    ("host", "h"),
    ("connection", "Upgrade"),
    ("upgrade", "websocket"),
    ("sec-websocket-key", "k"),
]
SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: a\r\n\r\n"


def test_upgrade_becomes_a_tunnel() -> None:
    rig = Rig()
    _ex, down = rig.send("GET", "/ws", WS)
    up = rig.dial()
    sent = up.take()
    assert b"connection: upgrade\r\nupgrade: websocket\r\n" in sent
    down.leftover = b"early"
    rig.answer(up, SWITCH + b"\x81\x02hi")
    assert down.calls[0] == (
        "switch",
        101,
        [("upgrade", "websocket"), ("sec-websocket-accept", "a"), ("connection", "upgrade")],
    )
    client = down.client
    assert client.take() == b"\x81\x02hi" and up.take() == b"early"
    client.protocol.data_received(b"from client")
    up.protocol.data_received(b"from server")
    assert up.take() == b"from client" and client.take() == b"from server"
    assert rig.upstream.pools[0].active == 1  # a tunnel counts as a connection in use
    # backpressure: the client's buffer full pauses reading the upstream
    client.high = 10
    up.protocol.data_received(b"x" * 20)
    assert not up.reading
    client.drain()
    assert up.reading
    client.protocol.eof_received()
    assert client.closing and up.closing and rig.upstream.pools[0].active == 0


def test_switch_without_asking_is_502() -> None:
    rig = Rig()
    _ex, down = rig.send("GET", "/ws", [("host", "h")])
    up = rig.dial()
    rig.answer(up, SWITCH)
    assert up.aborted and rig.upstream.pools[0].active == 0
    assert down.kinds() == ["fail"] and down.failure().status == 502
    assert "switched protocols without being asked to" in down.failure().detail


def test_upgrade_not_allowed_by_the_route_is_not_forwarded() -> None:
    rig = Rig()
    _ex, _down = rig.send("GET", "/ws", WS, upgrades=())
    sent = rig.dial().take()
    assert b"upgrade" not in sent.lower().split(b"\r\n\r\n")[0].replace(b"sec-websocket", b"")


def test_retry_spec_dataclass_is_frozen() -> None:
    assert dataclasses.is_dataclass(ProxySpec) and ProxySpec().retries == 1
