"""AsyncGenBody: an async generator as a response body, driven the way the connection drives
a PushBody (take() when its output has room, the waiter when nothing had arrived). The
generator runs at most one item ahead of the client; closing stops it on its own loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

from gateway.aio import AsyncGenBody, AsyncRunner
from tests.aio.support import FakeServerLoop, wait_for


class Connection:
    """What the server's output side does with a PushBody, minus the socket."""

    def __init__(self, body: AsyncGenBody, server: FakeServerLoop) -> None:
        self.body = body
        self.server = server
        self.received: list[bytes] = []
        self.ended = False
        self.woken = 0

    def take_one(self) -> bytes | None:
        """take() until something arrives (waiting on the waiter, as the Outbox does)."""
        while True:
            data = self.body.take()
            if data is None:
                self.ended = True
                return None
            if data:
                self.received.append(data)
                return data
            woke: list[int] = []
            self.body.waiter = lambda woke=woke: woke.append(1)
            self.server.run_until(lambda woke=woke: bool(woke))
            self.woken += 1


def _body(gen: AsyncIterator[object], runner: AsyncRunner, server: FakeServerLoop) -> AsyncGenBody:
    return AsyncGenBody(gen, runner, server.call_soon_threadsafe)


def test_streams_every_item_then_ends(runner: AsyncRunner) -> None:
    server = FakeServerLoop()

    async def events() -> AsyncIterator[object]:
        for i in range(3):
            await asyncio.sleep(0)
            yield f"data: {i}\n\n"
        yield b"bye"

    conn = Connection(_body(events(), runner, server), server)
    while conn.take_one() is not None:
        pass
    assert conn.received == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n", b"bye"]
    assert not conn.body.failed
    conn.body.close()


def test_a_client_that_stops_reading_stops_the_generator(runner: AsyncRunner) -> None:
    server = FakeServerLoop()
    produced: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        i = 0
        while True:
            produced.append(i)
            yield b"x" * 1000
            i += 1

    conn = Connection(_body(endless(), runner, server), server)
    conn.take_one()
    conn.take_one()
    # The client is now "full": no more take(). Give the generator every chance to run on.
    for _ in range(50):
        server.run_pending()
        runner.run(lambda: asyncio.sleep(0), 5.0)
    assert len(produced) <= 3  # two sent, at most one asked for ahead
    conn.take_one()  # room again: it moves on
    assert len(conn.received) == 3
    conn.body.close()


def test_close_mid_stream_runs_the_generators_finally_on_its_loop(runner: AsyncRunner) -> None:
    server = FakeServerLoop()
    cleaned: list[str] = []

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.sleep(60)  # a quiet event stream
            yield b"never"
        finally:
            cleaned.append(threading.current_thread().name)

    conn = Connection(_body(events(), runner, server), server)
    assert conn.take_one() == b"first"
    assert conn.body.take() == b""  # the next pull is now waiting in sleep(60)
    conn.body.close()  # the client left
    wait_for(lambda: cleaned == ["gateway-async"])


def test_a_failing_generator_fails_the_body(runner: AsyncRunner) -> None:
    server = FakeServerLoop()

    async def broken() -> AsyncIterator[bytes]:
        yield b"ok"
        raise ValueError("database went away")

    conn = Connection(_body(broken(), runner, server), server)
    assert conn.take_one() == b"ok"
    assert conn.take_one() is None
    assert conn.body.failed  # the connection closes without the last chunk


def test_a_non_bytes_item_fails_the_body_and_closes_the_generator(runner: AsyncRunner) -> None:
    server = FakeServerLoop()
    closed = []

    async def wrong() -> AsyncIterator[object]:
        try:
            yield {"not": "bytes"}
            yield b"unreached"
        finally:
            closed.append(1)

    body = _body(wrong(), runner, server)
    conn = Connection(body, server)
    assert conn.take_one() is None and body.failed
    body.close()
    wait_for(lambda: closed == [1])


def test_item_timeout_fails_a_stuck_stream(runner: AsyncRunner) -> None:
    server = FakeServerLoop()

    async def stuck() -> AsyncIterator[bytes]:
        await asyncio.sleep(60)
        yield b"late"

    body = AsyncGenBody(stuck(), runner, server.call_soon_threadsafe, item_timeout=0.05)
    conn = Connection(body, server)
    assert conn.take_one() is None and body.failed


def test_a_stopped_runner_fails_the_body_instead_of_raising() -> None:
    server = FakeServerLoop()
    runner = AsyncRunner(use_uvloop=False)
    runner.start()
    runner.stop()

    async def events() -> AsyncIterator[bytes]:
        yield b"x"

    body = _body(events(), runner, server)
    assert body.take() is None and body.failed
    body.close()
