"""Placement: where one handler route's calls run, on the server loop (inline) or on the
handler pool. A route with neither `inline` nor `blocking` starts on the pool, moves to the
loop once it has shown it answers fast, goes back to the pool when a call on the loop takes
longer than `[server] inline_limit`, and stays there for good (logged) the second time."""

from __future__ import annotations

import logging
import resource
from collections.abc import Callable
from time import perf_counter
from typing import Any

from gateway.response import FileBody, Response

# Linux gives a thread's own CPU time and voluntary context switches; elsewhere wall time
# alone judges.
_THREAD: int | None = getattr(resource, "RUSAGE_THREAD", None)

log = logging.getLogger("gateway.app")

# Slow calls on the loop before a route stays on the pool for good. The first may be the
# process being preempted mid-call (a busy machine), not the handler: it only sends the
# route back to probation, where a handler that really blocks shows it without harm.
STRIKES = 2
# Calls in a row that must each finish within the limit on the pool before a route runs on
# the loop: a handler that blocks now and then (a database call) is seen blocking on the
# pool, where it stalls nobody, before it is trusted with the loop.
PROBATION_CALLS = 16


class Placement:
    """Where a route's calls go now. `inline` is read on the loop thread for every request;
    pool threads report their call times through `pooled` (a plain int counter: a race
    between two threads only delays the move by a call), the loop through `ran_inline`."""

    __slots__ = ("_fast_calls", "_strikes", "adaptive", "inline", "label", "limit")

    def __init__(self, label: str, mode: str = "auto", limit: float = 0.01) -> None:
        if mode not in ("auto", "inline", "pool"):
            raise ValueError(f"placement mode {mode!r}: use 'auto', 'inline' or 'pool'")
        self.label = label
        self.limit = limit  # seconds a call may take on the loop
        self.adaptive = mode == "auto"  # False: `inline = true` or `blocking = true` decided
        self.inline = mode == "inline"
        self._fast_calls = 0
        self._strikes = 0

    def clock(self) -> tuple[float, Any]:
        """Taken before a call; `held(clock)` after it says how long it held its thread."""
        if _THREAD is None or not self.adaptive:  # a fixed placement learns nothing
            return perf_counter(), None
        return perf_counter(), resource.getrusage(_THREAD)

    def run_inline(self, call: Callable[[Any, Any], Response], func: Any, request: Any) -> Response:
        """`call(func, request)` on the loop, timed: a call within half the limit with a
        plain answer (nearly every call) costs two clock reads and one getrusage and
        changes nothing; any other goes through held() and ran_inline()."""
        started = perf_counter()
        before = resource.getrusage(_THREAD) if _THREAD is not None else None
        response = None
        try:
            response = call(func, request)
        finally:  # a handler that blocked, then raised, blocked all the same
            wall = perf_counter() - started
            body = None if response is None else type(response.body)
            plain = body is None or body is bytes or body is FileBody
            if wall > self.limit / 2 or not plain:
                self.ran_inline(self.held((started, before)), plain)
        return response

    def held(self, started: tuple[float, Any]) -> float:
        """Seconds the call since `started` kept its thread: its wall time when it waited
        (slept, or blocked on a socket: a voluntary context switch) or computed that long;
        only its CPU time when the rest was the OS running something else (a busy
        machine preempts the loop for 20 ms now and then: no fault of the handler)."""
        wall = perf_counter() - started[0]
        before = started[1]
        if wall <= self.limit / 2 or before is None:
            return wall
        after = resource.getrusage(_THREAD)  # type: ignore[arg-type]
        if after.ru_nvcsw > before.ru_nvcsw:
            return wall
        cpu: float = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return cpu

    def pooled(self, elapsed: float, plain_body: bool) -> None:
        """A call ran on the pool in `elapsed` seconds (wall time: a sleep or a socket wait
        counts). `plain_body`: its answer was bytes or a file, nothing pumped from an
        iterator, which must stay on the pool thread that may block between chunks."""
        if not self.adaptive or self.inline:
            return
        if elapsed > self.limit / 2 or not plain_body:  # half: room for a slower call later
            self._fast_calls = 0
            if not plain_body:
                self.adaptive = False  # a streaming handler stays on the pool
            return
        self._fast_calls += 1
        if self._fast_calls >= PROBATION_CALLS:
            self.inline = True
            log.debug("handler %s answers fast: it runs on the loop now", self.label)

    def ran_inline(self, elapsed: float, plain_body: bool) -> None:
        """A call ran on the loop: past the limit the route goes back to probation on the
        pool, the second time (or at once for a streamed answer) for good, and the log says
        so once."""
        if not self.adaptive or (elapsed <= self.limit and plain_body):
            return
        self.inline = False
        self._fast_calls = 0
        self._strikes += 1
        if plain_body and self._strikes < STRIKES:
            log.info(
                "handler %s took %.1f ms on the server loop: back to the handler pool to be "
                "watched again",
                self.label,
                elapsed * 1000,
            )
            return
        self.adaptive = False
        why = (
            f"blocked the server loop for {elapsed * 1000:.1f} ms "
            f"(inline_limit is {self.limit * 1000:g} ms)"
            if plain_body
            else "returned a streamed body"
        )
        log.warning(
            "handler %s %s: it runs on the handler pool from now on "
            "(set blocking = true on its route to start it there)",
            self.label,
            why,
        )


def plain_body(response: Response) -> bool:
    """Whether an answer is bytes or a file: nothing the loop would pump from an iterator
    (which may block between chunks) or hold open (an event stream)."""
    body = response.body
    return type(body) is bytes or type(body) is FileBody
