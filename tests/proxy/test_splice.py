"""The zero-copy relay on real sockets: exact byte counts with splice and with the copy
fallback, over socketpairs and TCP, bytes after the count left unread, early EOF."""

from __future__ import annotations

import os
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gateway.proxy.splice import HAS_SPLICE, Relay, SpliceJob, Want, worth_splicing

MODES = [
    pytest.param(
        True, id="splice", marks=pytest.mark.skipif(not HAS_SPLICE, reason="no os.splice")
    ),
    pytest.param(False, id="copy"),
]


def drive(relay: Relay, timeout: float = 10.0) -> None:
    """Step the relay on selector readiness until done (to a deadline, never a sleep)."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        while (want := relay.step()) is not Want.DONE:
            sock, event = (
                (relay.src, selectors.EVENT_READ)
                if want is Want.READ
                else (relay.dst, selectors.EVENT_WRITE)
            )
            sel.register(sock, event)
            if not sel.select(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"relay stuck after {relay.moved} bytes")
            sel.unregister(sock)


def feeder(sock: socket.socket, data: bytes, close: bool = False) -> threading.Thread:
    def run() -> None:
        sock.sendall(data)
        if close:
            sock.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def collect(sock: socket.socket, count: int, out: bytearray) -> threading.Thread:
    def run() -> None:
        while len(out) < count:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return
            out.extend(chunk)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@contextmanager
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
    try:
        yield client, accepted
    finally:
        client.close()
        accepted.close()


@pytest.mark.parametrize("use_splice", MODES)
@pytest.mark.parametrize("kind", ["socketpair", "tcp"])
def test_relay_moves_exactly_count_bytes(use_splice: bool, kind: str) -> None:
    body = os.urandom(3 * 1024 * 1024 + 17)
    pair = tcp_pair if kind == "tcp" else contextmanager(lambda: iter([socket.socketpair()]))
    with pair() as (up_far, up_near), pair() as (down_near, down_far):
        up_near.setblocking(False)
        down_near.setblocking(False)
        writer = feeder(up_far, body + b"NEXT REQUEST")
        got = bytearray()
        reader = collect(down_far, len(body), got)
        relay = Relay(up_near, down_near, len(body), use_splice)
        assert relay.spliced is use_splice
        drive(relay)
        relay.close()
        writer.join(10)
        reader.join(10)
        assert relay.moved == len(body) and bytes(got) == body
        up_near.setblocking(True)
        up_near.settimeout(5)
        assert up_near.recv(100) == b"NEXT REQUEST"  # what follows the body is left alone


@pytest.mark.parametrize("use_splice", MODES)
def test_early_eof_is_an_error(use_splice: bool) -> None:
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d:
        b.setblocking(False)
        c.setblocking(False)
        feeder(a, b"x" * 1000, close=True).join(5)
        relay = Relay(b, c, 5000, use_splice)
        with pytest.raises(EOFError, match="the source closed after 1000 of 5000 bytes"):
            drive(relay)
        relay.close()


def test_worth_splicing() -> None:
    a, b = socket.socketpair()
    with a, b:
        assert worth_splicing(1 << 20, a, b) is HAS_SPLICE
        assert not worth_splicing(1000, a, b)
        assert not worth_splicing(None, a, b)
        assert not worth_splicing(1 << 20, a, None)


@pytest.mark.parametrize("use_splice", MODES)
def test_splice_job_on_a_selector_loop(use_splice: bool) -> None:
    """The job driven the way the server loop drives keys: key.data(mask)."""
    body = os.urandom(2 * 1024 * 1024)
    with tcp_pair() as (up_far, up_near), tcp_pair() as (down_near, down_far):
        up_near.setblocking(False)
        down_near.setblocking(False)
        writer = feeder(up_far, body + b"rest")
        got = bytearray()
        reader = collect(down_far, len(body), got)
        results: list[BaseException | None] = []
        with selectors.DefaultSelector() as sel:
            job = SpliceJob(sel, Relay(up_near, down_near, len(body), use_splice), results.append)
            job.start()
            deadline = time.monotonic() + 10
            while not results and time.monotonic() < deadline:
                for key, mask in sel.select(0.5):
                    key.data(mask)
            assert results == [None] and not sel.get_map()
        writer.join(10)
        reader.join(10)
        assert bytes(got) == body


def test_splice_job_reports_early_eof_and_cancel_is_quiet() -> None:
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d, selectors.DefaultSelector() as sel:
        b.setblocking(False)
        c.setblocking(False)
        results: list[BaseException | None] = []
        job = SpliceJob(sel, Relay(b, c, 100), results.append)
        job.start()
        assert sel.get_key(b).events == selectors.EVENT_READ
        a.sendall(b"x" * 10)
        a.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 5
        while not results and time.monotonic() < deadline:
            for key, mask in sel.select(0.5):
                key.data(mask)
        assert isinstance(results[0], EOFError) and not sel.get_map()
        e, f = socket.socketpair()
        with e, f:
            e.setblocking(False)
            other = SpliceJob(sel, Relay(e, f, 100), results.append)
            other.start()  # nothing to read: it waits on e
            assert sel.get_key(e).events == selectors.EVENT_READ
            other.cancel()
        assert len(results) == 1 and not sel.get_map()
