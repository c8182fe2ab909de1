"""Liveness and readiness answers. Alive: the loop answered at all. Ready: not draining,
an app loaded, and (when upstreams are configured) at least one upstream server healthy.
Pure functions of a HealthState, so the rules are tested without a server."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HealthState:
    draining: bool = False  # SIGTERM received: the endpoints should go elsewhere
    loaded: bool = True  # False while the initial config failed to build
    # (upstream, server, up) for every upstream server the proxy checks; empty: no proxy.
    upstreams: tuple[tuple[str, str, bool], ...] = ()


def liveness() -> tuple[int, bytes]:
    """The process answers: that is all liveness asks (a hung loop answers nothing)."""
    return 200, b'{"status": "ok"}\n'


def readiness(state: HealthState) -> tuple[int, bytes]:
    """200 when this instance should get traffic, else 503 with the reason."""
    reason = not_ready_reason(state)
    if reason is None:
        return 200, b'{"status": "ready"}\n'
    return 503, (json.dumps({"status": "not ready", "reason": reason}) + "\n").encode()


def not_ready_reason(state: HealthState) -> str | None:
    if state.draining:
        return "draining"
    if not state.loaded:
        return "config not loaded"
    if state.upstreams and not any(up for _, _, up in state.upstreams):
        return "every upstream server is down"
    return None


def upstream_state(
    upstreams: Iterable[list[object] | tuple[object, ...]],
) -> tuple[tuple[str, str, bool], ...]:
    """HealthState.upstreams from a metrics snapshot's "upstreams" list."""
    return tuple((str(u), str(s), bool(up)) for u, s, up in upstreams)
