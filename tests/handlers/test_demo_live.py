"""The demo's async examples under `gateway serve` of the repository's gateway.toml: the
`async def` and async-generator routes, the WebSocket echo with a wsproto client over TCP
(1001 on SIGTERM), and what a plain install without wsproto does (501 + a warning)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import httpx
import pytest

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.testing import Transport
from tests.cli.test_cli import serving

REPO = Path(__file__).resolve().parents[2]


def test_demo_async_routes_under_gateway_serve() -> None:
    with serving(REPO / "gateway.toml") as (_process, url):
        assert httpx.get(url + "api/time").json()["async"] is True
        with httpx.stream("GET", url + "api/ticks", headers={"accept": "text/event-stream"}) as r:
            assert r.headers["content-type"] == "text/event-stream"
            assert next(r.iter_text()).startswith("data: tick 1 at ")


def test_demo_websocket_echo_under_gateway_serve() -> None:
    pytest.importorskip("wsproto", reason="the websocket extra")
    from wsproto.events import AcceptConnection, CloseConnection, TextMessage

    from tests.handlers.test_websocket_routes import Client

    with serving(REPO / "gateway.toml") as (process, url):
        port = int(url.rstrip("/").rpartition(":")[2])
        client = Client(port, "/ws/echo")
        assert isinstance(client.next_event(), AcceptConnection)
        assert client.next_event() == TextMessage("connected: type something", True, True)
        client.send(TextMessage(data="hi there"))
        assert client.next_event() == TextMessage("HI THERE", True, True)
        process.send_signal(signal.SIGTERM)
        closed = client.next_event()
        assert isinstance(closed, CloseConnection) and closed.code == 1001
        client.close()
        assert process.wait(timeout=15) == 0


def test_without_wsproto_a_websocket_route_answers_501_and_warns(monkeypatch, caplog) -> None:
    monkeypatch.setitem(sys.modules, "wsproto", None)  # import wsproto -> ImportError
    with caplog.at_level(logging.WARNING, logger="gateway.app"):
        app = build_app(load_config(REPO / "gateway.toml"))
    assert "route /ws/echo answers 501: websocket routes need wsproto" in caplog.text
    with httpx.Client(transport=Transport(app), base_url="http://test") as client:
        response = client.get("/ws/echo", headers={"upgrade": "websocket"})
        assert response.status_code == 501
        assert "pip install wsproto" in response.text
        assert client.get("/api/time").json()["async"] is True  # the rest serves
