"""max_connections against websockets: an upgraded connection leaves the server's set of
HTTP connections at the 101 but still holds a socket, so it must still count, or a client
could open websockets past the limit until the process runs out of file descriptors."""

from __future__ import annotations

import httpx
import pytest

pytest.importorskip("wsproto", reason="websocket routes need the websocket extra (wsproto)")

from tests.support import wait_for
from tests.websocket.test_fuzz_frames import Conn, close_payload, frame

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    max_connections = 2
    timeouts = { shutdown = "1s" }

    [[route]]
    path = "/ws/echo"
    websocket = "wsapi:echo"
    websocket_options = { ping_interval = false }

    [[route]]
    path = "/ok"
    respond = { status = 200, body = "ok" }
"""

API = """
async def echo(ws):
    async for message in ws:
        await ws.send(message)
"""


def test_websockets_count_toward_max_connections(site) -> None:
    server = site(SITE, {"wsapi.py": API})
    conns = [Conn(server), Conn(server)]
    wait_for(lambda: not server.server.accepting, timeout=1.0)  # the limit is reached
    for conn in conns:
        conn.send(frame(0x8, close_payload(1000)))
        assert conn.closed_with() == 1000
    assert httpx.get(server.url + "/ok", timeout=5).text == "ok"  # accepting again
