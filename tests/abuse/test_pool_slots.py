"""Pool slots do not outlive their requests (issue 10, item 2): a call answered 504 or whose
client left gives its slot back (a queued one never runs), and a streamed body whose client
stops reading gives its thread back. Slow or abandoned requests must not starve /ok."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gateway.server.loop import Loop
from gateway.server.pool import HandlerPool
from tests.support import Running, connect, running_server, wait_for, write_site

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    handler_threads = 2
    handler_queue = 4
    timeouts = { handler = "300ms" }

    [[route]]
    path = "/slow"
    handler = "api.h:slow"

    [[route]]
    path = "/ok"
    handler = "api.h:ok"

    [[route]]
    path = "/forever"
    handler = "api.h:forever"

    [[route]]
    path = "/ran"
    handler = "api.h:ran"
"""

HANDLERS = """
    import threading, time

    RAN = []
    STOP = threading.Event()

    def slow(request):
        RAN.append(request.id)
        STOP.wait(5)  # far past the handler timeout
        return "late"

    def ok(request):
        return "ok"

    def ran(request):
        return {"ran": len(RAN)}

    def forever(request):
        def body():
            while not STOP.is_set():
                yield b"x" * 65536
        return body()
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    path = write_site(tmp_path, SITE, {"api/h.py": HANDLERS})
    with running_server(path) as running:
        yield running


def _stop(running: Running) -> None:
    """Let the site's slow handlers and endless streams end."""
    sys.modules[f"{running.server.app.modules.package}.api.h"].STOP.set()


def test_timed_out_calls_free_their_slots(server: Running) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        try:
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor(6) as ex:
                slow = list(ex.map(lambda _: client.get("/slow").status_code, range(6)))
            assert slow == [504] * 6
            # Every slot is free again at once: /ok does not wait 5 s for the slow calls.
            started = time.monotonic()
            assert client.get("/ok").status_code == 200
            assert time.monotonic() - started < 2
        finally:
            _stop(server)


def test_a_stream_whose_client_does_not_read_gives_its_thread_back(server: Running) -> None:
    socks: list[socket.socket] = []
    try:
        for _ in range(3):  # more non-reading clients than threads
            sock = connect(server.port)
            sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(sock)
        pool = server.server.pool
        # Each stream fills the socket and the connection's buffer, then parks.
        wait_for(lambda: pool.pending == 0, timeout=10)
        with httpx.Client(base_url=server.url, timeout=5) as client:
            for _ in range(5):
                assert client.get("/ok").status_code == 200
        # A client that reads again gets the rest of its body: the stream resumes (32 MiB
        # is more than the socket buffers, the connection's 1 MiB and 8 chunks together).
        sock = socks[0]
        got = 0
        while got < 32 << 20:
            data = sock.recv(1 << 20)
            assert data, f"the stream stopped after {got} bytes"
            got += len(data)
    finally:
        _stop(server)
        for sock in socks:
            sock.close()


def test_cancelled_queued_calls_never_run_and_stuck_ones_get_spares() -> None:
    loop = Loop()
    pool = HandlerPool(loop, 1, 2)
    release = threading.Event()
    ran: list[int] = []

    def work(n: int) -> Callable[[], int]:
        def run() -> int:
            ran.append(n)
            release.wait(5)
            return n

        return run

    jobs = [pool.submit(work(n), lambda result: None) for n in range(3)]
    assert pool.submit(work(3), lambda result: None) is None  # 1 thread + 2 queued: full
    wait_for(lambda: ran == [0])
    for job in reversed(jobs):  # queued ones first: no spare can take them
        assert job is not None
        pool.cancel(job)
    assert pool.pending == 0
    loop.run_ready()  # starts the spare for the call stuck on its thread
    done: list[int] = []
    assert pool.submit(lambda: 42, done.append) is not None
    wait_for(lambda: (loop.run_ready(), done)[1] == [42])
    assert ran == [0]  # the two cancelled while queued never ran
    release.set()
    wait_for(lambda: (loop.run_ready(), len(pool._threads))[1] == 1)  # the stuck one retires
    pool.shutdown()
