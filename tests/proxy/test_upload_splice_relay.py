"""What the upload splice needs of the relay: which side failed (the client's socket is the
source of a request body, the upstream's its destination), how much was received, and a
step callback on the selector loop that keeps its registration while it waits on one side."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gateway.proxy.splice import HAS_SPLICE, Relay, SpliceJob

MODES = [
    pytest.param(
        True, id="splice", marks=pytest.mark.skipif(not HAS_SPLICE, reason="no os.splice")
    ),
    pytest.param(False, id="copy"),
]
Ends = tuple[socket.socket, socket.socket, socket.socket, socket.socket, selectors.BaseSelector]


@contextmanager
def relay_ends() -> Iterator[Ends]:
    """a -> b, the relay's source, and c -> d, its destination (b and c non-blocking), and
    the selector its job runs on."""
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d, selectors.DefaultSelector() as sel:
        b.setblocking(False)
        c.setblocking(False)
        yield a, b, c, d, sel


def run(sel: selectors.BaseSelector, results: list[BaseException | None]) -> None:
    deadline = time.monotonic() + 5
    while not results and time.monotonic() < deadline:
        for key, mask in sel.select(0.5):
            key.data(mask)


@pytest.mark.parametrize("use_splice", MODES)
def test_the_source_closing_early_is_the_sources_failure(use_splice: bool) -> None:
    with relay_ends() as (a, b, c, _d, sel):
        steps: list[int] = []
        results: list[BaseException | None] = []
        relay = Relay(b, c, 100, use_splice)
        job = SpliceJob(sel, relay, results.append, lambda: steps.append(relay.received))
        job.start()
        assert steps == [0] and job.waiting_on is b  # waits for the source, told once
        a.sendall(b"x" * 10)
        a.shutdown(socket.SHUT_WR)
        run(sel, results)
        assert isinstance(results[0], EOFError) and relay.broken == "src"
        assert relay.received == relay.moved == 10 and steps == [0]  # (ended in one step)
        assert not sel.get_map()


@pytest.mark.parametrize("use_splice", MODES)
def test_a_destination_that_resets_is_the_destinations_failure(use_splice: bool) -> None:
    with relay_ends() as (a, b, c, d, sel):
        d.close()  # the destination's peer is gone: sending fails with EPIPE
        results: list[BaseException | None] = []
        relay = Relay(b, c, 100, use_splice)
        job = SpliceJob(sel, relay, results.append)
        job.start()
        a.sendall(b"y" * 50)
        run(sel, results)
        assert isinstance(results[0], OSError) and relay.broken == "dst"
        assert relay.received == 50 and relay.moved == 0
