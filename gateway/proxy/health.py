"""Server health for one upstream, as a state machine driven by reports and `now` (it never
reads a clock). Passive: `max_fails` failures in a row mark a server down for `fail_timeout`,
after which one request may try it again. Active: a check result per server, `fails` in a
row mark it down and `passes` in a row bring it back."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.proxy.spec import HealthSpec


@dataclass(slots=True)
class ServerState:
    fails: int = 0  # passive: request failures in a row
    down_until: float = 0.0  # passive: not picked before this time
    checked_down: bool = False  # active: the last checks said down
    check_streak: int = 0  # active: results in a row that disagree with checked_down
    next_check: float = 0.0


class Health:
    """The health of `count` servers. A server is up when no active check holds it down
    and its passive down period has ended."""

    def __init__(
        self,
        count: int,
        max_fails: int = 3,
        fail_timeout: float = 10.0,
        checks: HealthSpec | None = None,
    ) -> None:
        self.max_fails = max_fails
        self.fail_timeout = fail_timeout
        self.checks = checks
        self.servers = [ServerState() for _ in range(count)]

    def is_up(self, index: int, now: float) -> bool:
        state = self.servers[index]
        return not state.checked_down and now >= state.down_until

    def up(self, now: float) -> list[int]:
        return [i for i in range(len(self.servers)) if self.is_up(i, now)]

    # passive: what real requests saw

    def failed(self, index: int, now: float) -> bool:
        """A request to the server failed (connect refused, timeout, broken response).
        Returns True when this marks it down."""
        if self.max_fails == 0:
            return False
        state = self.servers[index]
        state.fails += 1
        if state.fails >= self.max_fails:
            state.down_until = now + self.fail_timeout
            # Once the period ends the server gets one try: a single failure then puts
            # it back down, a success (succeeded) clears the count.
            state.fails = self.max_fails - 1
            return True
        return False

    def succeeded(self, index: int) -> None:
        self.servers[index].fails = 0

    # active: what the periodic checks saw

    def due(self, now: float) -> list[int]:
        """Servers whose check is due; each is scheduled `interval` later."""
        if self.checks is None:
            return []
        found = []
        for index, state in enumerate(self.servers):
            if now >= state.next_check:
                state.next_check = now + self.checks.interval
                found.append(index)
        return found

    def checked(self, index: int, passed: bool) -> bool:
        """Record one check result; True when it changes the server's up/down state."""
        assert self.checks is not None
        state = self.servers[index]
        if passed != state.checked_down:  # agrees with the current state
            state.check_streak = 0
            return False
        state.check_streak += 1
        needed = self.checks.passes if state.checked_down else self.checks.fails
        if state.check_streak < needed:
            return False
        state.checked_down = not state.checked_down
        state.check_streak = 0
        if not state.checked_down:
            state.fails, state.down_until = 0, 0.0  # a passing check outranks old failures
        return True

    def next_check_in(self, now: float) -> float | None:
        """Seconds until the next check is due (for the caller's timer), or None."""
        if self.checks is None:
            return None
        return max(0.0, min(state.next_check for state in self.servers) - now)

    def retry_after(self, now: float) -> int:
        """Whole seconds a client should wait when every server is down (Retry-After):
        until the first passive period ends, or one check interval when checks hold
        servers down."""
        waits = []
        for state in self.servers:
            if state.checked_down and self.checks is not None:
                waits.append(self.checks.interval)
            elif state.down_until > now:
                waits.append(state.down_until - now)
        return max(1, math.ceil(min(waits))) if waits else 1
