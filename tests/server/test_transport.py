"""SocketTransport and the Loop's own tools (call_later, connect), driven through a real Loop
over socketpairs and local listening sockets: partial writes, sendfile resumed after a full
socket, pause/resume of reading and writing, close and abort while output waits."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.server.loop import Loop
from gateway.server.sockets import SocketTransport
from gateway.server.transport import Protocol, Transport


class Recorder(Protocol):
    def __init__(self) -> None:
        self.transport: Transport | None = None
        self.data = bytearray()
        self.events: list[str] = []
        self.lost: list[BaseException | None] = []

    def connection_made(self, transport: Transport) -> None:
        self.transport = transport
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> None:
        self.events.append("eof")

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.append(exc)
        self.events.append("lost")

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")


def run_until(loop: Loop, done: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    loop.tick_interval = 0.01
    loop.run(lambda: bool(done()) or time.monotonic() > deadline)
    assert done(), "the loop did not get there in time"


@pytest.fixture
def loop() -> Iterator[Loop]:
    loop = Loop()
    yield loop
    loop.close()


def small_pair() -> tuple[socket.socket, socket.socket]:
    """A connected pair whose buffers are small, so writes are partial."""
    a, b = socket.socketpair()
    for sock in (a, b):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def drain_into(sock: socket.socket, into: bytearray) -> Callable[[], None]:
    def read() -> None:
        try:
            while chunk := sock.recv(65536):
                into.extend(chunk)
        except BlockingIOError:
            pass

    return read


def test_a_large_write_goes_out_whole_and_in_order_across_partial_sends(loop: Loop) -> None:
    a, b = small_pair()
    proto = Recorder()
    transport = SocketTransport(loop, a, proto)
    payload = bytes(range(256)) * 4096  # 1 MiB: far over the socket buffer
    transport.write(payload[:1000])
    transport.write(payload[1000:])
    assert 0 < transport.get_write_buffer_size() < len(payload)  # the socket took some
    received = bytearray()
    read = drain_into(b, received)
    run_until(loop, lambda: (read(), len(received) == len(payload))[1])
    assert bytes(received) == payload
    assert transport.get_write_buffer_size() == 0
    b.close()
    transport.close()
    run_until(loop, lambda: proto.lost)


def test_pause_writing_above_high_water_and_resume_once_drained(loop: Loop) -> None:
    a, b = small_pair()
    proto = Recorder()
    transport = SocketTransport(loop, a, proto)
    transport.set_write_buffer_limits(high=64 * 1024, low=0)
    transport.write(b"x" * 200_000)
    assert proto.events == ["made", "pause"]
    received = bytearray()
    read = drain_into(b, received)
    run_until(loop, lambda: (read(), "resume" in proto.events)[1])
    assert transport.get_write_buffer_size() == 0
    run_until(loop, lambda: (read(), len(received) == 200_000)[1])
    transport.abort()
    b.close()


def test_corked_writes_leave_in_one_send(loop: Loop) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    transport = SocketTransport(loop, a, Recorder())
    before = loop.send_calls
    transport.cork()
    for i in range(16):
        transport.write(b"answer %d\n" % i)
    assert loop.send_calls == before  # held
    transport.uncork()
    assert loop.send_calls == before + 1
    assert b.recv(65536) == b"".join(b"answer %d\n" % i for i in range(16))
    transport.abort()
    b.close()


def test_sendfile_resumes_where_a_full_socket_stopped_it(loop: Loop, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    a, b = small_pair()
    proto = Recorder()
    transport = SocketTransport(loop, a, proto)
    finished: list[bool] = []
    transport.write(b"HEAD\n")
    transport.write_file(fd, 10, len(data) - 10, finished.append)
    transport.write(b"\nTAIL")
    assert not finished  # a 4 KiB socket buffer cannot take 3 MiB at once
    received = bytearray()
    read = drain_into(b, received)
    run_until(loop, lambda: (read(), len(received) == len(data) - 10 + 10)[1], timeout=10)
    assert finished == [True]
    assert bytes(received) == b"HEAD\n" + data[10:] + b"\nTAIL"
    os.close(fd)  # the transport never closes a file it was given
    transport.abort()
    b.close()


def test_an_empty_file_is_done_at_once_and_the_connection_goes_on(
    loop: Loop, tmp_path: Path
) -> None:
    """sendfile sends 0 bytes of an empty file: that is not a file that shrank (which
    closes the connection), so keep-alive goes on after an empty static file."""
    path = tmp_path / "empty"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)
    a, b = socket.socketpair()
    a.setblocking(False)
    transport = SocketTransport(loop, a, Recorder())
    finished: list[bool] = []
    transport.write(b"HEAD\n")
    transport.write_file(fd, 0, 0, finished.append)
    transport.write(b"TAIL")
    assert finished == [True]
    assert not transport.is_closing()
    assert b.recv(100) == b"HEAD\nTAIL"
    os.close(fd)
    transport.abort()
    b.close()


def test_a_file_still_queued_at_abort_is_reported_not_sent(loop: Loop, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"y" * 1_000_000)
    fd = os.open(path, os.O_RDONLY)
    a, b = small_pair()
    transport = SocketTransport(loop, a, Recorder())
    results: list[bool] = []
    transport.write(b"z" * 100_000)  # the socket is full before the file's turn
    transport.write_file(fd, 0, 1_000_000, results.append)
    transport.abort()
    assert results == [False]
    os.close(fd)
    b.close()


def test_close_while_writing_sends_everything_then_closes(loop: Loop) -> None:
    a, b = small_pair()
    proto = Recorder()
    transport = SocketTransport(loop, a, proto)
    transport.write(b"q" * 300_000)
    transport.close()
    assert transport.is_closing() and not proto.lost
    transport.write(b"dropped: written after close")
    received = bytearray()
    eof = []

    def read() -> None:
        try:
            while True:
                chunk = b.recv(65536)
                if not chunk:
                    eof.append(True)
                    return
                received.extend(chunk)
        except BlockingIOError:
            pass

    run_until(loop, lambda: (read(), eof)[1])
    assert bytes(received) == b"q" * 300_000
    run_until(loop, lambda: proto.lost)
    assert proto.lost == [None]
    b.close()


def test_abort_drops_queued_output_at_once(loop: Loop) -> None:
    a, b = small_pair()
    proto = Recorder()
    transport = SocketTransport(loop, a, proto)
    transport.write(b"q" * 300_000)
    transport.abort()
    run_until(loop, lambda: proto.lost)
    received = bytearray()
    b.setblocking(True)
    while chunk := b.recv(65536):
        received.extend(chunk)
    assert len(received) < 300_000
    b.close()


def test_pause_reading_holds_data_until_resume(loop: Loop) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    proto = Recorder()
    transport = SocketTransport(loop, a, proto)
    transport.pause_reading()
    assert not transport.is_reading()
    b.sendall(b"hello")
    ticks = []
    loop.call_later(0.05, lambda: ticks.append(1))
    run_until(loop, lambda: ticks)
    assert proto.data == b""  # it waited in the kernel
    transport.resume_reading()
    run_until(loop, lambda: proto.data == b"hello")
    b.shutdown(socket.SHUT_WR)
    run_until(loop, lambda: "eof" in proto.events)
    transport.close()
    run_until(loop, lambda: proto.lost)
    b.close()


def test_set_protocol_hands_the_connection_over(loop: Loop) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    first, second = Recorder(), Recorder()
    transport = SocketTransport(loop, a, first)
    transport.set_protocol(second)
    assert transport.get_protocol() is second
    b.sendall(b"for the second")
    run_until(loop, lambda: second.data)
    assert first.data == b"" and bytes(second.data) == b"for the second"
    transport.abort()
    run_until(loop, lambda: second.lost)
    assert not first.lost
    b.close()


def test_call_later_runs_in_due_order_and_cancel_prevents_a_call(loop: Loop) -> None:
    calls: list[str] = []
    loop.call_later(0.03, lambda: calls.append("late"))
    cancelled = loop.call_later(0.01, lambda: calls.append("cancelled"))
    loop.call_later(0.0, lambda: calls.append("now"))
    loop.call_later(0.02, lambda: calls.append("middle"))
    cancelled.cancel()
    run_until(loop, lambda: len(calls) == 3)
    assert calls == ["now", "middle", "late"]


def test_connect_over_tcp_to_a_local_listener(loop: Loop) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    proto = Recorder()
    transport = loop.connect(("127.0.0.1", port), lambda: proto)
    transport.write(b"sent before the connection was up")
    run_until(loop, lambda: "made" in proto.events)
    peer, _ = server.accept()
    peer.settimeout(5)
    assert peer.recv(100) == b"sent before the connection was up"
    peer.sendall(b"reply")
    run_until(loop, lambda: proto.data == b"reply")
    assert transport.get_extra_info("peername") == ("127.0.0.1", port)
    peer.close()
    run_until(loop, lambda: "eof" in proto.events)
    transport.close()
    run_until(loop, lambda: proto.lost == [None])
    server.close()


def test_connect_to_a_unix_socket(loop: Loop) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "upstream.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen()
        proto = Recorder()
        transport = loop.connect(path, lambda: proto)
        run_until(loop, lambda: "made" in proto.events)
        peer, _ = server.accept()
        transport.write(b"over unix")
        peer.settimeout(5)
        assert peer.recv(100) == b"over unix"
        transport.close()
        run_until(loop, lambda: proto.lost)
        peer.close()
        server.close()


def test_a_refused_connect_ends_in_connection_lost_with_the_error(loop: Loop) -> None:
    spare = socket.create_server(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()  # nothing listens there now
    proto = Recorder()
    loop.connect(("127.0.0.1", port), lambda: proto)
    run_until(loop, lambda: proto.lost)
    assert "made" not in proto.events
    assert isinstance(proto.lost[0], ConnectionRefusedError | OSError)
