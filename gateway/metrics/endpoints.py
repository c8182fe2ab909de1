"""The operations endpoints of one config: metrics (off unless configured, only for
allowed networks), liveness and readiness. Built per app; `answer` is asked only when
the request path is in `paths`, so other requests pay one set lookup."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.metrics.access import DEFAULT_ALLOW, Allow
from gateway.metrics.counters import Metrics
from gateway.metrics.health import HealthState, liveness, readiness
from gateway.metrics.render import CONTENT_TYPE, merge, render
from gateway.metrics.shared import SharedDir
from gateway.response import Response

HEALTH = "/__gateway/health"
READY = "/__gateway/ready"
JSON = "application/json"
NO_STORE = ("cache-control", "no-store")


class Endpoints:
    """Answers for the configured operations paths; None/"" turns one off."""

    def __init__(
        self,
        metrics: str | None = None,
        metrics_allow: Iterable[str] = DEFAULT_ALLOW,
        health: str | None = HEALTH,
        ready: str | None = READY,
    ) -> None:
        self.metrics_path = metrics or None
        self.allow = Allow(metrics_allow)
        self.health_path = health or None
        self.ready_path = ready or None
        self.paths = frozenset(
            p for p in (self.metrics_path, self.health_path, self.ready_path) if p
        )

    @classmethod
    def from_spec(cls, server: Any) -> Endpoints:
        """From a ServerSpec; keys it does not have yet take their defaults."""
        return cls(
            metrics=getattr(server, "metrics", None),
            metrics_allow=getattr(server, "metrics_allow", DEFAULT_ALLOW),
            health=getattr(server, "health", HEALTH),
            ready=getattr(server, "ready", READY),
        )

    def answer(
        self,
        method: str,
        path: str,
        client_ip: str,
        metrics: Metrics,
        state: HealthState,
        shared: SharedDir | None = None,
    ) -> Response | None:
        """The response for an operations path, or None when `path` is not one."""
        if path not in self.paths:
            return None
        if method not in ("GET", "HEAD"):
            return Response(
                405, b"method not allowed\n", [("allow", "GET, HEAD"), NO_STORE], "text/plain"
            )
        if path == self.metrics_path:
            if not self.allow(client_ip):
                return Response(403, b"forbidden\n", [NO_STORE], "text/plain")
            merged = shared.collect(metrics) if shared is not None else merge([metrics.snapshot()])
            return Response(200, render(merged).encode(), [NO_STORE], CONTENT_TYPE)
        status, body = liveness() if path == self.health_path else readiness(state)
        return Response(status, body, [NO_STORE], JSON)
