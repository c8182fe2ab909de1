"""`[[route]] websocket = ...` through a real server: a wsproto client over TCP (handshake,
echo of text and bytes, the origin check through the route's CORS policy, max message ->
1009, 1001 at shutdown, a reload closes only connections whose handler's file changed),
config errors, and headless Chromium echoing through a page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("wsproto", reason="websocket routes need the websocket extra (wsproto)")

from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    RejectConnection,
    Request,
    TextMessage,
)

from gateway.app import build_app
from gateway.cli import main
from gateway.config.load import load_config
from tests.browser import headless, needs_chromium
from tests.support import connect, wait_for, write_site

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [cors.app]
    allow_origins = ["https://app.example"]

    [[route]]
    path = "/ws/echo"
    websocket = "api.chat:echo"
    websocket_options = { max_message = "1KB", ping_interval = false, subprotocols = ["chat"] }

    [[route]]
    path = "/ws/other"
    websocket = "api.other:echo"

    [[route]]
    path = "/ws/cors"
    websocket = "api.chat:echo"
    cors = "app"

    [[route]]
    path = "/result"
    methods = ["POST", "GET"]
    handler = "api.chat:result"

    [[static]]
    prefix = "/"
    dir = "public"
"""

CHAT = """
RESULTS = []

async def echo(ws):
    async for message in ws:
        await ws.send(message)

def result(request):
    if request.method == "POST":
        RESULTS.append(request.body.decode())
    return RESULTS
"""

OTHER = """
async def echo(ws):
    async for message in ws:
        await ws.send(message)
"""

PAGE = """<!doctype html><script>
const ws = new WebSocket(`ws://${location.host}/ws/echo`);
ws.onopen = () => ws.send("hello from chromium");
ws.onmessage = (e) => fetch("/result", {method: "POST", body: "echoed: " + e.data});
</script>"""

FILES = {
    "api/__init__.py": "",
    "api/chat.py": CHAT,
    "api/other.py": OTHER,
    "public/index.html": PAGE,
}


class Client:
    """A blocking WebSocket client: wsproto's WSConnection on a plain socket."""

    def __init__(self, port: int, path: str, **request: Any) -> None:
        self.sock = connect(port)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.events: list[Event] = []
        self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{port}", target=path, **request)))

    def next_event(self) -> Event:
        while not self.events:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            self.events.extend(self.ws.events())
            if not data and not self.events:
                raise ConnectionError("closed without an event")
        return self.events.pop(0)

    def send(self, event: Event) -> None:
        self.sock.sendall(self.ws.send(event))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server(site):
    return site(SITE, FILES)


def test_echo_text_and_bytes_with_the_subprotocol(server) -> None:
    client = Client(server.port, "/ws/echo", subprotocols=["other", "chat"])
    accepted = client.next_event()
    assert isinstance(accepted, AcceptConnection) and accepted.subprotocol == "chat"
    client.send(TextMessage(data="héllo"))
    assert client.next_event() == TextMessage(data="héllo", frame_finished=True)
    client.send(BytesMessage(data=b"\x00\x01"))
    echoed = client.next_event()
    assert isinstance(echoed, BytesMessage) and bytes(echoed.data) == b"\x00\x01"
    client.send(CloseConnection(code=1000))
    assert isinstance(client.next_event(), CloseConnection)
    client.close()


def test_a_message_over_max_message_closes_with_1009(server) -> None:
    client = Client(server.port, "/ws/echo")
    assert isinstance(client.next_event(), AcceptConnection)
    client.send(TextMessage(data="x" * 2000))
    closed = client.next_event()
    assert isinstance(closed, CloseConnection) and closed.code == 1009
    client.close()


def test_origins_go_through_the_routes_cors_policy(server) -> None:
    stranger = Client(server.port, "/ws/cors", extra_headers=[(b"origin", b"https://evil.example")])
    refused = stranger.next_event()
    assert isinstance(refused, RejectConnection) and refused.status_code == 403
    stranger.close()
    allowed = Client(server.port, "/ws/cors", extra_headers=[(b"origin", b"https://app.example")])
    assert isinstance(allowed.next_event(), AcceptConnection)
    allowed.close()
    # Without a policy, only a page of the same origin may connect.
    same = f"http://127.0.0.1:{server.port}".encode()
    mine = Client(server.port, "/ws/echo", extra_headers=[(b"origin", same)])
    assert isinstance(mine.next_event(), AcceptConnection)
    mine.close()
    other = Client(server.port, "/ws/echo", extra_headers=[(b"origin", b"http://elsewhere")])
    assert isinstance(other.next_event(), RejectConnection)
    other.close()


def test_a_plain_get_is_told_to_upgrade(server) -> None:
    response = httpx.get(server.url + "/ws/echo")
    assert response.status_code == 426
    assert response.headers["upgrade"] == "websocket"


def test_shutdown_says_going_away(site, tmp_path: Path) -> None:
    running = site(SITE, FILES)
    client = Client(running.port, "/ws/echo")
    assert isinstance(client.next_event(), AcceptConnection)
    running.server.request_shutdown()
    closed = client.next_event()
    assert isinstance(closed, CloseConnection) and closed.code == 1001
    client.close()


def test_reload_closes_only_connections_whose_handler_changed(server, tmp_path: Path) -> None:
    chat = Client(server.port, "/ws/echo")
    other = Client(server.port, "/ws/other")
    for client in (chat, other):
        assert isinstance(client.next_event(), AcceptConnection)
    (tmp_path / "api" / "other.py").write_text(OTHER + "\n# edited\n")
    app = build_app(load_config(tmp_path / "gateway.toml"), server.server.app.modules)
    server.server.call_soon_threadsafe(lambda: server.server.swap_app(app))
    closed = other.next_event()
    assert isinstance(closed, CloseConnection) and closed.code == 1001
    chat.send(TextMessage(data="still here"))
    assert chat.next_event() == TextMessage(data="still here", frame_finished=True)
    chat.close()
    other.close()


def test_check_refuses_a_sync_websocket_handler(tmp_path: Path, capsys) -> None:
    files = {**FILES, "api/other.py": "def echo(ws):\n    pass\n"}
    config = write_site(tmp_path, SITE, files)
    assert main(["check", "--config", str(config)]) == 1
    assert "websocket handler 'api.other:echo' is not `async def`" in capsys.readouterr().err


def test_websocket_options_are_checked(tmp_path: Path, capsys) -> None:
    bad = SITE.replace('max_message = "1KB"', 'max_mesage = "1KB"')
    config = write_site(tmp_path, bad, FILES)
    assert main(["check", "--config", str(config)]) == 1
    assert "max_mesage" in capsys.readouterr().err


@needs_chromium
def test_a_page_in_chromium_echoes_through_a_websocket(server, tmp_path: Path) -> None:
    with headless(server.url + "/", tmp_path / "profile"):
        wait_for(lambda: httpx.get(server.url + "/result").json(), timeout=20)
    assert httpx.get(server.url + "/result").json() == ["echoed: hello from chromium"]
