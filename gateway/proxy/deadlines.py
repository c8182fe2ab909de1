"""Deadlines: the timeouts of an upstream's exchanges, kept without a timer per request. Each
watched exchange holds its own `deadline` (moved by a float store on every read); one
call_later chain per upstream sweeps them while any is watched and stops when none is."""

from __future__ import annotations

from typing import Protocol

from gateway.proxy.seams import LoopLike, TimerLike

# The sweep runs every `timeout / STEPS` of the shortest timeout being watched, so a
# timeout fires at most that much late (nginx's timers are exact; a few % late is fine).
STEPS = 8
FINEST = 0.005
COARSEST = 0.5


class Watched(Protocol):
    deadline: float

    def on_deadline(self, now: float) -> None:
        """`now` is past the deadline: time out (or move the deadline on)."""


class Deadlines:
    """`watch(item, shortest_timeout)` when an exchange starts waiting on its upstream,
    `forget(item)` when it ends; `item.on_deadline(now)` runs once its deadline passed."""

    __slots__ = ("_every", "_items", "_loop", "_timer")

    def __init__(self, loop: LoopLike) -> None:
        self._loop = loop
        self._items: dict[Watched, None] = {}  # insertion-ordered set
        self._timer: TimerLike | None = None
        self._every = COARSEST

    def watch(self, item: Watched, timeout: float) -> None:
        self._items[item] = None
        every = min(COARSEST, max(FINEST, timeout / STEPS))
        if self._timer is None or every < self._every:
            if self._timer is not None:
                self._timer.cancel()
            self._every = every
            self._timer = self._loop.call_later(every, self._sweep)

    def forget(self, item: Watched) -> None:
        self._items.pop(item, None)

    def __len__(self) -> int:
        return len(self._items)

    def _sweep(self) -> None:
        self._timer = None
        items = self._items
        if not items:
            self._every = COARSEST
            return  # nothing watched: the chain stops until the next watch()
        now = self._loop.now
        for item in [item for item in items if item.deadline <= now]:
            if item in items:  # an earlier one's timeout may have ended it
                item.on_deadline(now)
        if items:
            self._timer = self._loop.call_later(self._every, self._sweep)
        else:
            self._every = COARSEST

    def close(self) -> None:
        self._items.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
