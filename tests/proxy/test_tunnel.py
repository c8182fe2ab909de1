"""The 101 tunnel's idle timeout: no byte either way for `tunnel_idle_timeout` closes both
connections (bytes in either direction keep it open); the key's default and its errors;
and over the wire, a WebSocket left quiet through `gateway serve` is closed on time."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from gateway.proxy.tunnel import Tunnel
from tests.proxy.fakes import FakeLoop, FakeTransport
from tests.proxy.support import read, serving
from tests.proxy.upstream import Origin, ws_echo


def test_a_quiet_tunnel_closes_after_the_idle_timeout_and_traffic_keeps_it() -> None:
    loop, client, upstream = FakeLoop(), FakeTransport(), FakeTransport()
    tunnel = Tunnel(client, upstream, loop=loop, idle_timeout=10.0)
    tunnel.start()
    loop.advance(9)
    client.protocol.data_received(b"ping")  # client -> upstream
    loop.advance(9)
    upstream.protocol.data_received(b"pong")  # upstream -> client
    loop.advance(9.5)
    assert not tunnel.closed and upstream.written == b"ping" and client.written == b"pong"
    loop.advance(0.6)  # 10 s since the last byte
    assert tunnel.closed and client.closing and upstream.closing
    assert loop.live_timers() == 0


def test_closing_otherwise_stops_the_idle_timer() -> None:
    loop = FakeLoop()
    tunnel = Tunnel(FakeTransport(), FakeTransport(), loop=loop, idle_timeout=10.0)
    tunnel.start()
    tunnel.close()
    assert loop.live_timers() == 0


def test_the_key_default_and_mistakes() -> None:
    got = read(
        """
        [[route]]
        path = "/a"
        proxy = { url = "http://127.0.0.1:1" }

        [[route]]
        path = "/b"
        proxy = { url = "http://127.0.0.1:1", tunnel_idle_timeout = "90s" }

        [[route]]
        path = "/c"
        proxy = { url = "http://127.0.0.1:1", tunnel_idle_timeout = "soon" }
        """
    )
    first, second, _ = got.proxies
    assert first is not None and first.tunnel_idle_timeout == 3600.0
    assert second is not None and second.tunnel_idle_timeout == 90.0
    assert len(got.issues) == 1 and "route[2].proxy.tunnel_idle_timeout" in got.issues[0]
    assert "'soon'" in got.issues[0]


def test_a_quiet_websocket_through_gateway_serve_is_closed(tmp_path: Path) -> None:
    pytest.importorskip("wsproto", reason="the websocket extra")
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Request

    origin = Origin(ws_echo)
    config = f"""
        [[route]]
        path = "/ws"
        proxy = {{ url = "http://127.0.0.1:{origin.port}", tunnel_idle_timeout = "300ms" }}
        """
    try:
        with (
            serving(tmp_path, config) as running,
            socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock,
        ):
            client = WSConnection(ConnectionType.CLIENT)
            sock.sendall(client.send(Request(host="localhost", target="/ws")))
            client.receive_data(sock.recv(65536))
            assert any(isinstance(e, AcceptConnection) for e in client.events())
            began = time.monotonic()
            assert sock.recv(65536) == b""  # nothing was said: closed by the proxy
            assert 0.25 <= time.monotonic() - began < 4
    finally:
        origin.close()
