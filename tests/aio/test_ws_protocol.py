"""WebSocketProtocol, sans-IO: a wsproto client against the protocol over a fake transport,
with the handler on a real async loop. Covers echo (whole and byte by byte), fragmentation
with control frames between fragments, bad UTF-8 (1007), oversize (1009), both closing
handshakes and their timeout, ping/pong keep-alive, refusals before accept, backpressure."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("wsproto", reason="websocket needs the websocket extra (wsproto)")

from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    TextMessage,
)

from gateway.aio import AsyncRunner
from gateway.websocket import Close, Settings, WebSocketClosed
from tests.aio.support import wait_for
from tests.aio.ws_harness import Harness, masked_frame


async def echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


def _closes(h: Harness) -> list[CloseConnection]:
    return [e for e in h.events if isinstance(e, CloseConnection)]


@pytest.mark.parametrize("one_byte_at_a_time", [False, True])
def test_echo_text_and_bytes(runner: AsyncRunner, one_byte_at_a_time: bool) -> None:
    h = Harness(echo, runner)
    h.start()
    h.accepted()
    assert b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in h.head
    h.send(TextMessage(data="héllo"), one_byte_at_a_time)
    h.send(BytesMessage(data=b"\x00\xff" * 300), one_byte_at_a_time)
    events = h.wait_events(2)
    assert isinstance(events[0], TextMessage) and events[0].data == "héllo"
    assert isinstance(events[1], BytesMessage) and events[1].data == b"\x00\xff" * 300


def test_fragments_with_a_ping_between_them(runner: AsyncRunner) -> None:
    h = Harness(echo, runner)
    h.start()
    h.accepted()
    data = h.client.send(TextMessage(data="one ", message_finished=False))
    data += h.client.send(Ping(payload=b"are you there"))
    data += h.client.send(TextMessage(data="two ", message_finished=False))
    data += h.client.send(TextMessage(data="three", message_finished=True))
    h.feed(data)
    events = h.wait_events(2)
    assert isinstance(events[0], Pong) and events[0].payload == b"are you there"  # at once
    assert isinstance(events[1], TextMessage) and events[1].data == "one two three"


def test_early_bytes_are_kept_until_accept(runner: AsyncRunner) -> None:
    h = Harness(echo, runner)
    early = h.client.send(TextMessage(data="sent with the upgrade"))
    h.start(trailing=early)
    h.accepted()
    assert h.wait_events(1)[0].data == "sent with the upgrade"  # type: ignore[attr-defined]


def test_invalid_utf8_closes_1007(runner: AsyncRunner) -> None:
    seen: list[Any] = []

    async def handler(ws: Any) -> None:
        seen.append(await ws.receive())

    h = Harness(handler, runner)
    h.start()
    h.accepted()
    h.feed(masked_frame(0x1, b"ok \xff\xfe"))
    h.run_until(lambda: h.transport.closed and bool(_closes(h)))
    assert _closes(h)[0].code == 1007
    wait_for(lambda: seen == [Close(1007, seen[0].reason if seen else "")])


def test_unmasked_client_frame_is_a_protocol_error(runner: AsyncRunner) -> None:
    h = Harness(echo, runner)
    h.start()
    h.accepted()
    h.feed(b"\x81\x02hi")  # a client frame must be masked
    h.run_until(lambda: h.transport.closed)
    assert _closes(h)[0].code == 1002


@pytest.mark.parametrize("fragmented", [False, True])
def test_oversize_message_closes_1009(runner: AsyncRunner, fragmented: bool) -> None:
    h = Harness(echo, runner, Settings(ping_interval=None, max_message_bytes=100))
    h.start()
    h.accepted()
    h.send(BytesMessage(data=b"x" * 100))  # at the limit: fine
    assert h.wait_events(1)[0].data == b"x" * 100  # type: ignore[attr-defined]
    if fragmented:
        for _ in range(3):
            h.send(BytesMessage(data=b"y" * 40, message_finished=False))
    else:
        h.send(BytesMessage(data=b"y" * 101))
    h.run_until(lambda: h.transport.closed)
    assert _closes(h)[0].code == 1009
    assert not any(isinstance(e, BytesMessage) and e.data[:1] == b"y" for e in h.events)


def test_client_starts_the_closing_handshake(runner: AsyncRunner) -> None:
    got: list[Any] = []

    async def handler(ws: Any) -> None:
        async for message in ws:
            got.append(message)
        got.append(ws.closed)

    h = Harness(handler, runner)
    h.start()
    h.accepted()
    h.send(TextMessage(data="last words"))
    h.send(CloseConnection(code=1000, reason="bye"))
    h.run_until(lambda: h.transport.closed)
    assert [(e.code, e.reason) for e in _closes(h)] == [(1000, "bye")]  # echoed
    assert not h.transport.aborted
    wait_for(lambda: got == ["last words", Close(1000, "bye")])
    assert h.closed_seen == [h.protocol]


def test_handler_closes_and_waits_for_the_reply(runner: AsyncRunner) -> None:
    finished: list[str] = []

    async def handler(ws: Any) -> None:
        await ws.send("closing soon")
        await ws.close(4000, "done here")
        finished.append("close returned")
        with pytest.raises(WebSocketClosed):
            await ws.send("too late")
        finished.append("send refused")

    h = Harness(handler, runner)
    h.start()
    h.accepted()
    h.run_until(lambda: bool(_closes(h)))
    assert (_closes(h)[0].code, _closes(h)[0].reason) == (4000, "done here")
    assert not h.transport.closed  # waiting for the client's close frame
    h.send(_closes(h)[0].response())
    h.run_until(lambda: h.transport.closed)
    wait_for(lambda: finished == ["close returned", "send refused"])


def test_close_timeout_drops_a_silent_peer(runner: AsyncRunner) -> None:
    async def handler(ws: Any) -> None:
        await ws.accept()
        await ws.close()

    h = Harness(handler, runner)
    h.start()
    h.accepted()
    h.run_until(lambda: bool(_closes(h)))
    assert not h.transport.closed
    h.transport.loop.fire_all()  # the close timeout
    assert h.transport.aborted


def test_returning_handler_closes_1000_and_a_raising_one_1011(runner: AsyncRunner) -> None:
    async def quits(ws: Any) -> None:
        await ws.accept()

    async def breaks(ws: Any) -> None:
        await ws.accept()
        raise RuntimeError("bug")

    for handler, code in ((quits, 1000), (breaks, 1011)):
        h = Harness(handler, runner)
        h.start()
        h.accepted()
        h.run_until(lambda h=h: bool(_closes(h)))
        assert _closes(h)[0].code == code


@pytest.mark.parametrize(
    ("how", "status"), [("return", b"403"), ("close", b"403"), ("raise", b"500")]
)
def test_refused_before_accept(runner: AsyncRunner, how: str, status: bytes) -> None:
    async def handler(ws: Any) -> None:
        if how == "close":
            await ws.close()
        elif how == "raise":
            raise PermissionError("no token")

    h = Harness(handler, runner)
    h.start()
    h.run_until(lambda: h.transport.closed)
    assert h.transport.written.startswith(b"HTTP/1.1 " + status)
    assert b"101" not in h.transport.written


def test_subprotocol_on_accept(runner: AsyncRunner) -> None:
    async def handler(ws: Any) -> None:
        await ws.accept(
            subprotocol=ws.request.headers.get("sec-websocket-protocol").split(",")[1].strip()
        )
        await ws.receive()

    h = Harness(
        handler,
        runner,
        headers=[
            ("upgrade", "websocket"),
            ("connection", "upgrade"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "v1, v2"),
        ],
    )
    h.start()
    h.accepted()
    assert b"sec-websocket-protocol: v2\r\n" in h.head


def test_keepalive_ping_and_pong_timeout(runner: AsyncRunner) -> None:
    h = Harness(echo, runner, Settings(ping_interval=10.0, ping_timeout=5.0))
    h.start()
    h.accepted()
    timers = h.transport.loop
    assert [t.delay for t in timers.live()] == [10.0]
    timers.fire_all()  # ping
    h.run_until(lambda: any(isinstance(e, Ping) for e in h.events))
    assert sorted(t.delay for t in timers.live()) == [5.0, 10.0]  # pong deadline, next ping
    ping = next(e for e in h.events if isinstance(e, Ping))
    h.send(ping.response())  # the client answers
    assert [t.delay for t in timers.live()] == [10.0]
    timers.fire_all()  # the next ping, never answered
    assert sorted(t.delay for t in timers.live()) == [5.0, 10.0]
    pong_deadline = next(t for t in timers.live() if t.delay == 5.0)
    pong_deadline.callback()
    h.run_until(lambda: bool(_closes(h)))
    assert _closes(h)[0].code == 1011 and h.transport.aborted


def test_connection_lost_ends_receive_with_1006(runner: AsyncRunner) -> None:
    got: list[Any] = []

    async def handler(ws: Any) -> None:
        got.append(await ws.receive())

    h = Harness(handler, runner)
    h.start()
    h.accepted()
    h.protocol.connection_lost(ConnectionResetError("reset"))
    wait_for(lambda: bool(got))
    assert isinstance(got[0], Close) and got[0].code == 1006


def test_going_away_closes_1001(runner: AsyncRunner) -> None:
    h = Harness(echo, runner)
    h.start()
    h.accepted()
    h.run_until(lambda: True)
    h.protocol.going_away("handler module changed")
    assert (_closes(h) or h.wait_events(1)) and _closes(h)[0].code == 1001


def test_send_waits_while_the_transport_is_paused(runner: AsyncRunner) -> None:
    sent: list[int] = []

    async def flood(ws: Any) -> None:
        for i in range(50):
            await ws.send(b"z" * 1000)
            sent.append(i)

    h = Harness(flood, runner, Settings(ping_interval=None, send_buffer_bytes=4000))
    h.protocol.pause_writing()  # the client's socket is full from the start
    h.start()
    h.accepted()
    for _ in range(20):
        h.server.run_pending()
        runner.run(lambda: asyncio.sleep(0), 5.0)
    assert len(sent) <= 1  # accept went through; no more sends while paused
    h.protocol.resume_writing()
    h.run_until(lambda: len(sent) == 50)
    h.run_until(lambda: sum(isinstance(e, BytesMessage) for e in h.events) == 50)


def test_unread_messages_pause_reading(runner: AsyncRunner) -> None:
    go = asyncio.Event()
    got: list[Any] = []

    async def slow_reader(ws: Any) -> None:
        await ws.accept()
        await go.wait()
        for _ in range(10):
            got.append(await ws.receive())

    h = Harness(slow_reader, runner, Settings(ping_interval=None, receive_buffer_bytes=3000))
    h.start()
    h.accepted()
    for _ in range(10):
        h.send(BytesMessage(data=b"m" * 1000))
    assert not h.transport.reading and h.transport.pauses == 1
    assert runner.loop is not None
    runner.loop.call_soon_threadsafe(go.set)
    h.run_until(lambda: len(got) == 10 and h.transport.reading)
    assert h.transport.resumes == 1


def test_a_handler_that_ignores_the_close_is_cancelled(runner: AsyncRunner) -> None:
    unwound: list[str] = []

    async def stuck(ws: Any) -> None:
        await ws.accept()
        try:
            await asyncio.Event().wait()  # never looks at the connection again
        finally:
            unwound.append("cancelled")

    h = Harness(stuck, runner)
    h.start()
    h.accepted()
    h.protocol.connection_lost(None)
    assert unwound == []
    h.transport.loop.fire_all()  # the close timeout
    wait_for(lambda: unwound == ["cancelled"])


def test_after_a_101_written_by_the_server(runner: AsyncRunner) -> None:
    """gateway.response.Switch: the server writes the 101, then connection_made(transport)
    and the bytes that followed the request; accept() is a no-op."""
    subprotocols: list[Any] = []

    async def handler(ws: Any) -> None:
        await ws.accept()
        subprotocols.append(ws.subprotocol)
        await echo(ws)

    h = Harness(handler, runner)
    from gateway.websocket import WebSocketProtocol

    h.protocol = WebSocketProtocol(
        handler,
        h.protocol.ws.request,
        h.protocol.handshake,
        runner,
        h.server.call_soon_threadsafe,
        Settings(ping_interval=None),
        sent_101=True,
        subprotocol="chat",
    )
    h.transport.written += h.protocol.handshake.response_head()  # what the server wrote
    h.protocol.connection_made(h.transport)
    h.send(TextMessage(data="after the switch"))
    assert h.wait_events(1)[0].data == "after the switch"  # type: ignore[attr-defined]
    assert subprotocols == ["chat"]
    assert h.transport.written.count(b"HTTP/1.1 101") == 1


def test_registry_closes_only_connections_whose_handler_file_changed(runner: AsyncRunner) -> None:
    from gateway.websocket import Connections, handler_file

    connections = Connections()
    a = Harness(echo, runner)
    b = Harness(echo, runner)
    for h in (a, b):
        h.protocol._on_closed = connections.discard
        connections.add(h.protocol)
        h.start()
        h.accepted()
    assert handler_file(echo) == __file__
    b.protocol.handler = print  # as if b's handler lived elsewhere (a builtin: no file)
    connections.add(b.protocol)
    assert connections.reloaded(["/some/other/module.py"]) == 0
    assert connections.reloaded([__file__]) == 1
    a.run_until(lambda: bool(_closes(a)))
    assert _closes(a)[0].code == 1001 and not _closes(b)
    a.send(_closes(a)[0].response())
    a.run_until(lambda: a.transport.closed)
    assert len(connections) == 1
    assert connections.going_away() == 1
    b.run_until(lambda: bool(_closes(b)))
    assert _closes(b)[0].code == 1001
