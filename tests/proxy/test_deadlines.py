"""Deadlines: one sweep per upstream instead of a timer per request; it fires each watched
exchange once its deadline passed, follows deadlines moved by reads, and stops when idle."""

from __future__ import annotations

from gateway.proxy.deadlines import Deadlines
from tests.proxy.fakes import FakeLoop


class Item:
    """Like an exchange: a timeout ends it (it is forgotten)."""

    deadlines: Deadlines

    def __init__(self, deadline: float, log: list[tuple[str, float]], name: str) -> None:
        self.deadline, self.log, self.name = deadline, log, name

    def on_deadline(self, now: float) -> None:
        self.log.append((self.name, now))
        self.deadlines.forget(self)


def test_a_passed_deadline_fires_within_one_step_and_a_moved_one_waits() -> None:
    loop, log = FakeLoop(), []
    Item.deadlines = deadlines = Deadlines(loop)
    a, b = Item(loop.now + 1.0, log, "a"), Item(loop.now + 1.0, log, "b")
    deadlines.watch(a, 1.0)
    deadlines.watch(b, 1.0)
    assert loop.live_timers() == 1  # one timer for both
    loop.advance(0.9)
    b.deadline = loop.now + 1.0  # b read something: its deadline moves on
    loop.advance(0.3)
    assert [name for name, _ in log] == ["a"] and log[0][1] - 1000.0 <= 1.0 + 1.0 / 8
    loop.advance(1.0)
    assert [name for name, _ in log] == ["a", "b"]
    loop.advance(1.0)
    assert loop.live_timers() == 0 and len(deadlines) == 0  # idle: the sweep stopped


def test_a_shorter_timeout_makes_the_sweep_finer() -> None:
    loop, log = FakeLoop(), []
    Item.deadlines = deadlines = Deadlines(loop)
    deadlines.watch(Item(loop.now + 60, log, "slow"), 60.0)
    fast = Item(loop.now + 0.08, log, "fast")
    deadlines.watch(fast, 0.08)
    loop.advance(0.1)
    assert [name for name, _ in log] == ["fast"]
