"""Hostile clients against websocket routes of a real server, over raw sockets: broken
upgrade requests (key, version, Connection/Upgrade, method, HTTP/1.0, a body), then after the
101 frames RFC 6455 forbids (unmasked, reserved bits and opcodes, fragmented or oversized
control frames, bad UTF-8, bad close codes, too big), data after the close, a client that
never reads and abrupt disconnects. Each gets the status or close code the RFC names, the
handler sees a clean end, the log holds no ERROR or traceback and the server keeps serving."""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import httpx
import pytest

pytest.importorskip("wsproto", reason="websocket routes need the websocket extra (wsproto)")

from gateway.server.sockets import RECV_SIZE
from tests.support import Running, connect, wait_for

DEADLINE = 5.0
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    timeouts = { shutdown = "1s" }

    [[route]]
    path = "/ws/echo"
    websocket = "wsapi:echo"
    websocket_options = { max_message = "1KiB", ping_interval = false, close_timeout = "1s" }

    [[route]]
    path = "/ws/talk"
    websocket = "wsapi:talk"
    websocket_options = { send_buffer = "64KiB", ping_interval = "0.2s", ping_timeout = "0.3s", close_timeout = "0.5s" }

    [[route]]
    path = "/ws/naive"
    websocket = "wsapi:naive"
    websocket_options = { ping_interval = false }

    [[route]]
    path = "/ws/closer"
    websocket = "wsapi:closer"
    websocket_options = { ping_interval = false, close_timeout = "0.3s" }

    [[route]]
    path = "/ws/deaf"
    websocket = "wsapi:deaf"
    websocket_options = { ping_interval = false, receive_buffer = "64KiB", close_timeout = "0.3s" }

    [[route]]
    path = "/seen"
    handler = "wsapi:seen"

    [[route]]
    path = "/ok"
    respond = { status = 200, body = "ok" }
"""

API = """
from gateway.websocket.api import WebSocketClosed

ENDS = []


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    finally:  # after receive() gave the Close, or send() raised WebSocketClosed
        ENDS.append(ws.closed.code)


async def talk(ws):
    try:
        while True:
            await ws.send(b"x" * 65536)
    except WebSocketClosed as closed:
        ENDS.append(closed.close.code)


async def naive(ws):  # lets the WebSocketClosed of a client that left escape
    await ws.receive()
    ENDS.append(0)
    while True:
        await ws.send(b"x" * 65536)


async def closer(ws):  # closes first; the client never answers
    await ws.close(4001, "bye")
    ENDS.append(ws.closed.code)


async def deaf(ws):  # never reads what the client sends
    import asyncio

    await asyncio.sleep(1)
    ENDS.append(-1)


def seen(request):
    return ENDS
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    from tests.support import running_server, write_site

    root = tmp_path_factory.mktemp("wsfuzz")
    with running_server(write_site(root, SITE, {"wsapi.py": API})) as running:
        yield running


def ends(server: Running) -> list[int]:
    return list(httpx.get(server.url + "/seen", timeout=DEADLINE).json())


@pytest.fixture
def clean(server: Running, caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[int], None]]:
    """clean(n): the handler ended cleanly `n` more times, the log holds no ERROR and no
    traceback, and the server still answers."""
    caplog.set_level(logging.DEBUG, logger="gateway")
    before = len(ends(server))

    def check(handled: int) -> None:
        wait_for(lambda: len(ends(server)) >= before + handled, timeout=DEADLINE)
        assert httpx.get(server.url + "/ok", timeout=DEADLINE).text == "ok"
        bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert not bad, [r.getMessage() for r in bad]

    yield check


def upgrade(path: str = "/ws/echo", *, drop: str = "", extra: str = "", **fields: str) -> bytes:
    """An upgrade request: `fields` replace headers (name with _ for -), `drop` removes one."""
    headers = {
        "host": "127.0.0.1",
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": KEY,
        "sec-websocket-version": "13",
    }
    headers.update({k.replace("_", "-"): v for k, v in fields.items()})
    headers.pop(drop, None)
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"GET {path} HTTP/1.1\r\n{lines}{extra}\r\n".encode("latin-1")


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: bool = True
) -> bytes:
    """One frame, built by hand so that it can break the rules."""
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    bit, size = (0x80 if mask else 0), len(payload)
    if size < 126:
        head += bytes([bit | size])
    elif size < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


class Conn:
    """A raw socket past a 101: sends frames, reads the server's (unmasked) frames."""

    def __init__(self, server: Running, path: str = "/ws/echo") -> None:
        self.sock = connect(server.port, timeout=DEADLINE)
        self.sock.sendall(upgrade(path))
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.recv()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        assert ACCEPT in head, head

    def recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        return data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_frame(self) -> tuple[int, bytes]:
        while True:
            if len(self.buffer) >= 2:
                size, at = self.buffer[1] & 0x7F, 2
                if size == 126:
                    size, at = struct.unpack("!H", self.buffer[2:4])[0], 4
                elif size == 127:
                    size, at = struct.unpack("!Q", self.buffer[2:10])[0], 10
                if len(self.buffer) >= at + size and len(self.buffer) >= at:
                    assert not self.buffer[1] & 0x80, "a server frame must not be masked"
                    opcode, payload = self.buffer[0] & 0x0F, self.buffer[at : at + size]
                    self.buffer = self.buffer[at + size :]
                    return opcode, payload
            self.buffer += self.recv()

    def closed_with(self) -> int:
        """The code of the server's close frame (after any data frames), then its EOF."""
        while True:
            opcode, payload = self.next_frame()
            if opcode == 0x8:
                break
        code = struct.unpack("!H", payload[:2])[0] if payload else 1005
        self.sock.settimeout(DEADLINE)
        with suppress(ConnectionResetError):
            while self.sock.recv(65536):
                pass  # the server closes the TCP connection after its close frame
        self.sock.close()
        return code


def answer(server: Running, data: bytes) -> tuple[int, bytes]:
    """Status and head of the server's answer to `data` on a fresh connection."""
    with connect(server.port, timeout=DEADLINE) as sock:
        sock.sendall(data)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = sock.recv(65536)
            assert chunk, got
            got += chunk
    head = got.partition(b"\r\n\r\n")[0]
    return int(head.split(b" ")[1]), head.lower()


# -- the opening handshake ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (upgrade(drop="sec-websocket-key"), 400),
        (upgrade(sec_websocket_key="not base64!!"), 400),
        (upgrade(sec_websocket_key="c2hvcnQ="), 400),  # base64 of 5 bytes
        (upgrade(extra=f"sec-websocket-key: {KEY}\r\n"), 400),  # two keys
        (upgrade(sec_websocket_version="8"), 426),
        (upgrade(drop="sec-websocket-version"), 426),
        (upgrade(sec_websocket_version="13, 8"), 426),
        (upgrade(drop="connection"), 426),
        (upgrade(connection="keep-alive"), 426),
        (upgrade(drop="upgrade"), 426),
        (upgrade(upgrade="h2c"), 426),
        (upgrade().replace(b"GET ", b"POST ", 1), 405),
        (upgrade().replace(b"HTTP/1.1", b"HTTP/1.0", 1), 426),
    ],
    ids=[
        "no-key",
        "bad-key",
        "short-key",
        "two-keys",
        "version-8",
        "no-version",
        "two-versions",
        "no-connection",
        "connection-keep-alive",
        "no-upgrade",
        "upgrade-h2c",
        "post",
        "http-1.0",
    ],
)
def test_a_broken_upgrade_gets_the_right_status(
    server: Running, clean, request_bytes: bytes, status: int
) -> None:
    got, head = answer(server, request_bytes)
    assert got == status, head
    if status == 426:  # RFC 6455 4.4: the versions we speak; RFC 9110 15.5.22: Upgrade
        assert b"\r\nsec-websocket-version: 13" in head and b"\r\nupgrade: websocket" in head
    clean(0)


def test_an_upgrade_with_a_body_is_refused(server: Running, clean) -> None:
    """Bytes after the head would be the body or the first frames: nobody can tell."""
    masked_text = frame(0x1, b"hi")
    for extra, body in (
        ("content-length: 5\r\n", b"hello"),
        ("transfer-encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
    ):
        got, head = answer(server, upgrade(extra=extra) + body + masked_text)
        assert got == 400, head
    clean(0)


# -- frames after the 101 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(0x1, b"hi", mask=False), 1002),  # unmasked client frame (5.1)
        (frame(0x1, b"hi", rsv=4), 1002),  # RSV1 without an extension (5.2)
        (frame(0x1, b"hi", rsv=1), 1002),  # RSV3
        (frame(0x3, b"hi"), 1002),  # reserved data opcode
        (frame(0xB, b"hi"), 1002),  # reserved control opcode
        (frame(0x9, b"p", fin=False), 1002),  # fragmented ping (5.5)
        (frame(0x9, b"p" * 126), 1002),  # control frame over 125 bytes (5.5)
        (frame(0x0, b"hi"), 1002),  # continuation with nothing to continue
        (frame(0x1, b"a", fin=False) + frame(0x1, b"b"), 1002),  # new message mid-message
        (frame(0x1, b"\xff\xfe"), 1007),  # invalid UTF-8 (8.1)
        (frame(0x1, b"\xed\xa0\x80"), 1007),  # a UTF-16 surrogate in UTF-8
        (frame(0x1, b"ok \xe2\x82", fin=False) + frame(0x0, b"x"), 1007),  # split, then broken
        (frame(0x1, b"x" * 1025), 1009),  # over max_message (1 KiB)
        (frame(0x2, b"x" * 600, fin=False) + frame(0x0, b"x" * 600), 1009),  # fragments add up
        (frame(0x8, close_payload(999)), 1002),  # invalid close codes (7.4.1)
        (frame(0x8, close_payload(1005)), 1002),
        (frame(0x8, close_payload(1006)), 1002),
        (frame(0x8, close_payload(2999)), 1002),
        (frame(0x8, close_payload(5000)), 1002),
        (frame(0x8, b"\x03"), 1002),  # a 1-byte close payload
        (frame(0x8, close_payload(1000, b"\xff")), 1007),  # close reason not UTF-8
    ],
)
def test_a_broken_frame_closes_with_the_rfc_code(
    server: Running, clean, data: bytes, code: int
) -> None:
    conn = Conn(server)
    conn.send(data)
    assert conn.closed_with() == code
    clean(1)


def test_a_frame_announcing_2_to_the_62_bytes_closes_at_max_message(server: Running, clean) -> None:
    conn = Conn(server)
    conn.send(b"\x82\xff" + struct.pack("!Q", 1 << 62) + b"mask" + b"x" * 2000)
    assert conn.closed_with() == 1009
    clean(1)


def test_a_length_with_its_top_bit_set_is_a_protocol_error(server: Running, clean) -> None:
    conn = Conn(server)  # RFC 6455 5.2: the most significant bit of a 64-bit length is 0
    conn.send(b"\x82\xff\x80" + b"\x00" * 7 + b"mask" + b"x" * 10)
    assert conn.closed_with() == 1002
    clean(1)


def test_a_client_that_never_answers_our_close_is_dropped_after_close_timeout(
    server: Running, clean
) -> None:
    conn = Conn(server, "/ws/closer")
    started = time.monotonic()
    assert conn.next_frame() == (0x8, close_payload(4001, b"bye"))
    conn.sock.settimeout(DEADLINE)
    with suppress(ConnectionResetError):
        assert conn.sock.recv(1) == b""  # we sent no close back; the server gave up
    assert time.monotonic() - started < DEADLINE
    conn.sock.close()
    clean(1)


@pytest.mark.parametrize("opcode", [0x1, 0x2])
def test_empty_fragments_without_end_cost_no_memory(server: Running, clean, opcode: int) -> None:
    """A message of endless empty continuation frames never reaches max_message: each must
    cost nothing while the message waits (it cost a list entry and an object: 10x what
    the client sent, without bound)."""
    conn = Conn(server)
    empties = frame(0x0, b"", fin=False) * 30000  # 180 KB on the wire
    tracemalloc.start()
    try:
        conn.send(frame(opcode, b"a", fin=False) + empties + frame(0x9, b"sync"))
        assert conn.next_frame() == (0xA, b"sync")  # the ping after them: all were read
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    held = snapshot.filter_traces(
        [tracemalloc.Filter(True, "*/wsproto/*"), tracemalloc.Filter(True, "*/websocket/*")]
    )
    size = sum(stat.size for stat in held.statistics("filename"))
    assert size < 100_000, held.statistics("lineno")[:3]
    conn.send(frame(0x0, b"z"))
    assert conn.next_frame() == (opcode, b"az")
    conn.send(frame(0x8, close_payload(1000)))
    assert conn.closed_with() == 1000
    clean(1)


def test_good_frames_still_echo_byte_by_byte(server: Running, clean) -> None:
    conn = Conn(server)
    data = frame(0x9, b"ping") + frame(0x1, "héllo ".encode(), fin=False) + frame(0x0, b"there")
    for i in range(len(data)):
        conn.send(data[i : i + 1])
    assert conn.next_frame() == (0xA, b"ping")
    assert conn.next_frame() == (0x1, "héllo there".encode())
    conn.send(frame(0x8, close_payload(4000, b"bye")))
    assert conn.closed_with() == 4000
    clean(1)


def test_data_after_the_close_frame_is_ignored(server: Running, clean) -> None:
    conn = Conn(server)
    conn.send(frame(0x8, close_payload(1000)) + frame(0x1, b"late") + b"\x00garbage")
    assert conn.closed_with() == 1000
    clean(1)


def test_abrupt_disconnects(server: Running, clean) -> None:
    for data in (b"", frame(0x1, b"hi")[:3], frame(0x1, b"hello")):
        conn = Conn(server)
        conn.send(data)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.sock.close()
    conn = Conn(server)
    conn.send(frame(0x1, b"hi"))
    conn.sock.shutdown(socket.SHUT_WR)  # FIN without a close frame
    conn.sock.close()
    clean(4)


def test_a_handler_that_sends_after_the_client_left_ends_quietly(
    server: Running, clean, caplog: pytest.LogCaptureFixture
) -> None:
    """Its send() raises WebSocketClosed and the handler lets it escape: the client went
    away, which is no server error (as uvicorn's ClientDisconnected): no ERROR, no traceback."""
    conn = Conn(server, "/ws/naive")
    conn.send(frame(0x1, b"go"))
    clean(1)  # the handler is sending
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.sock.close()
    wait_for(lambda: "websocket handler" in caplog.text, timeout=DEADLINE)  # it ended
    clean(0)


def test_a_client_that_never_reads_is_dropped(server: Running, clean) -> None:
    """The handler sends without end; the client reads nothing (not even pings): the
    keep-alive gives up, the handler's send() raises, and the socket goes."""
    conn = Conn(server, "/ws/talk")
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    started = time.monotonic()
    clean(1)
    assert time.monotonic() - started < DEADLINE
    conn.sock.close()


def test_many_bad_clients_at_once_beside_a_good_one(server: Running, clean) -> None:
    bad = [frame(0x1, b"\xff"), frame(0x3, b""), frame(0x1, b"x", mask=False)]
    conns = [Conn(server) for _ in range(30)]
    good = Conn(server)
    for i, conn in enumerate(conns):
        conn.send(bad[i % 3])
    good.send(frame(0x1, b"still here"))
    assert good.next_frame() == (0x1, b"still here")
    codes = {conn.closed_with() for conn in conns}
    assert codes == {1002, 1007}
    good.send(frame(0x8, close_payload(1000)))
    assert good.closed_with() == 1000
    clean(31)
    assert json.loads(httpx.get(server.url + "/seen", timeout=DEADLINE).text)


def live_protocols() -> list[Any]:
    from gateway import wsroute

    return [p for live in list(wsroute._live.values()) for p in list(live)]


def test_a_handler_that_never_reads_stops_the_socket_being_read(server: Running, clean) -> None:
    """Messages for a handler that does not take them pile up to receive_buffer, then the
    socket is not read: the client's sends stall instead of the server's memory growing."""
    before = set(map(id, live_protocols()))
    conn = Conn(server, "/ws/deaf")
    new = lambda: [p for p in live_protocols() if id(p) not in before]  # noqa: E731
    (protocol,) = wait_for(new, timeout=DEADLINE)
    message = frame(0x2, b"m" * 1000)
    conn.sock.settimeout(0.5)
    sent = 0
    with suppress(TimeoutError):  # until the server stops reading (and the kernel is full)
        while sent < 32 << 20:
            conn.sock.sendall(message * 16)
            sent += len(message) * 16
    assert sent < 32 << 20, "the server read everything"
    # receive_buffer, and what the read that crossed it brought in
    assert protocol._unread < 64 * 1024 + RECV_SIZE, protocol._unread
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.sock.close()
    # The socket is not read, so its reset goes unseen until the handler ends and writes
    # its close (with pings on, the next ping would see it); then all is cleaned up.
    clean(1)


def test_a_ping_flood_from_a_client_that_never_reads_stays_bounded(server: Running, clean) -> None:
    """Each ping asks for a pong; a client that sends pings and reads nothing must not make
    the server queue pongs without end: it stops reading until the pongs drain."""
    before = set(map(id, live_protocols()))
    conn = Conn(server)
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    new = lambda: [p for p in live_protocols() if id(p) not in before]  # noqa: E731
    (protocol,) = wait_for(new, timeout=DEADLINE)
    pings = frame(0x9, b"p" * 125) * 64
    conn.sock.setblocking(False)
    sent, stalled, rest = 0, time.monotonic(), memoryview(pings)
    while sent < 32 << 20 and time.monotonic() - stalled < 0.5:
        try:
            took = conn.sock.send(rest)  # whole frames only: a partial send goes on
        except BlockingIOError:
            time.sleep(0.005)
            continue
        sent, stalled = sent + took, time.monotonic()
        rest = rest[took:] or memoryview(pings)
    queued = protocol.transport.get_write_buffer_size()
    limit = (1 << 20) + 64 * 1024  # the transport's high-water mark (HTTP's), and a bit
    assert queued < limit, f"{queued} bytes of pongs queued for {sent} bytes of pings"
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.sock.close()
    clean(1)
