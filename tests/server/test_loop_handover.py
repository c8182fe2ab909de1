"""Callbacks other threads hand to the loop (call_soon_threadsafe: a pooled handler's answer)
run between the events of a long batch, every EVENTS_PER_HANDOVER events, not only after
the whole batch (the pooled p99); the loop's own call_soon callbacks still run after it."""

from __future__ import annotations

import selectors
import socket
import threading

from gateway.server.loop import EVENTS_PER_HANDOVER, Loop


def _batch(loop: Loop, count: int, on_event) -> list[socket.socket]:
    """`count` readable sockets registered with `loop`, each handled by on_event()."""
    socks = []
    for _ in range(count):
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        theirs.send(b"x")
        socks += [ours, theirs]

        def handler(mask: int, sock: socket.socket = ours) -> None:
            sock.recv(16)
            on_event()

        loop.selector.register(ours, selectors.EVENT_READ, handler)
    return socks


def test_a_handed_callback_runs_within_a_long_batch():
    loop = Loop()
    count = EVENTS_PER_HANDOVER * 4
    handled: list[int] = []
    seen: dict[str, int] = {}

    def on_event() -> None:
        handled.append(1)
        if len(handled) == 1:  # as a pool thread would, while the batch runs
            thread = threading.Thread(
                target=loop.call_soon_threadsafe,
                args=(lambda: seen.setdefault("handed", len(handled)),),
            )
            thread.start()
            thread.join()
            loop.call_soon(lambda: seen.setdefault("soon", len(handled)))

    socks = _batch(loop, count, on_event)
    rounds = iter(range(3))
    try:
        loop.run(lambda: next(rounds, None) is None or len(seen) == 2)
    finally:
        for sock in socks:
            sock.close()
        loop.close()
    assert seen["handed"] == EVENTS_PER_HANDOVER  # in the batch, after its first 8 events
    assert seen["soon"] == count  # the loop's own: after the whole batch, as before


def test_a_short_batch_runs_handed_callbacks_after_it():
    loop = Loop()
    handled: list[int] = []
    seen: list[int] = []

    def on_event() -> None:
        handled.append(1)
        if len(handled) == 1:
            loop.call_soon_threadsafe(lambda: seen.append(len(handled)))

    socks = _batch(loop, EVENTS_PER_HANDOVER - 1, on_event)
    rounds = iter(range(3))
    try:
        loop.run(lambda: next(rounds, None) is None or bool(seen))
    finally:
        for sock in socks:
            sock.close()
        loop.close()
    assert seen == [EVENTS_PER_HANDOVER - 1]


def test_run_ready_at_shutdown_runs_both_kinds_in_order():
    loop = Loop()
    order: list[str] = []
    loop.call_soon(lambda: order.append("soon"))
    loop.call_soon_threadsafe(lambda: order.append("handed"))
    loop.call_soon_threadsafe(lambda: loop.call_soon(lambda: order.append("soon again")))
    loop.run_ready()
    loop.close()
    assert order == ["handed", "soon", "soon again"]
