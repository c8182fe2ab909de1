"""WebSocketProtocol over real TCP on 127.0.0.1:0: asyncio's selector transports stand in for
the server loop's (same Protocol/Transport names), the handler runs on an AsyncRunner, and
the client is wsproto's own WSConnection (handshake through h11) on a plain socket."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("wsproto", reason="websocket needs the websocket extra (wsproto)")

from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    RejectConnection,
    Request,
    TextMessage,
)

from gateway.aio import AsyncRunner
from gateway.errors import HTTPError
from gateway.http.headers import Headers
from gateway.request import Request as GatewayRequest
from gateway.websocket import Settings, WebSocketProtocol, check_handshake

NO_PING = Settings(ping_interval=None)


class _Transport:
    """An asyncio transport as gateway's Transport: the same methods, plus `.loop`."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._t = transport
        self.loop = loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._t, name)


class _Upgrade(asyncio.Protocol):
    """Just enough HTTP for the test: read one head, check it, hand the transport over."""

    def __init__(self, handler: Any, runner: AsyncRunner, settings: Settings) -> None:
        self.handler, self.runner, self.settings = handler, runner, settings
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head, sep, rest = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ")
        headers = Headers(
            [(n.strip().lower(), v.strip()) for n, v in (line.split(":", 1) for line in lines[1:])]
        )
        try:
            handshake = check_handshake(method, "1.1", headers)
        except HTTPError as exc:
            self.transport.write(f"HTTP/1.1 {exc.status} No\r\ncontent-length: 0\r\n\r\n".encode())
            self.transport.close()
            return
        loop = asyncio.get_running_loop()
        protocol = WebSocketProtocol(
            self.handler,
            GatewayRequest(method, target, headers),
            handshake,
            self.runner,
            loop.call_soon_threadsafe,
            self.settings,
        )
        self.transport.set_protocol(protocol)  # type: ignore[arg-type]
        protocol.start(_Transport(self.transport, loop), rest)


@pytest.fixture
def serve(runner: AsyncRunner) -> Iterator[Any]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers = []

    def start(handler: Any, settings: Settings = NO_PING) -> int:
        async def make() -> asyncio.Server:
            return await loop.create_server(
                lambda: _Upgrade(handler, runner, settings), "127.0.0.1", 0
            )

        server = asyncio.run_coroutine_threadsafe(make(), loop).result(5)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


class Client:
    def __init__(self, port: int, path: str = "/ws") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{port}", target=path)))
        self.pending: list[Any] = []

    def next_event(self) -> Any:
        while not self.pending:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            self.pending.extend(self.ws.events())
        return self.pending.pop(0)

    def send(self, event: Any) -> None:
        self.sock.sendall(self.ws.send(event))


async def echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


def test_echo_over_tcp_with_a_big_message(serve: Any) -> None:
    client = Client(serve(echo, Settings(ping_interval=None, max_message_bytes=4 << 20)))
    assert isinstance(client.next_event(), AcceptConnection)
    client.send(TextMessage(data="hello"))
    assert client.next_event().data == "hello"
    big = bytes(range(256)) * 4096  # 1 MiB: many reads, partial frames, transport pauses
    client.send(BytesMessage(data=big))
    received = b""
    while len(received) < len(big):
        event = client.next_event()
        assert isinstance(event, BytesMessage)
        received += event.data
    assert received == big
    client.send(CloseConnection(code=1000, reason="done"))
    event = client.next_event()
    assert isinstance(event, CloseConnection) and event.code == 1000
    assert client.sock.recv(10) == b""  # the server closed the TCP connection


def test_handler_refusal_is_a_403_over_tcp(serve: Any) -> None:
    async def refuse(ws: Any) -> None:
        await ws.close()

    client = Client(serve(refuse))
    event = client.next_event()
    assert isinstance(event, RejectConnection) and event.status_code == 403


def test_oversize_over_tcp(serve: Any) -> None:
    client = Client(serve(echo, Settings(ping_interval=None, max_message_bytes=1000)))
    assert isinstance(client.next_event(), AcceptConnection)
    client.send(BytesMessage(data=b"x" * 5000))
    event = client.next_event()
    assert isinstance(event, CloseConnection) and event.code == 1009
