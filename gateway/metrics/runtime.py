"""Ops: one process's operations state for the server to hold. Its Metrics live as long as
the process (a reload keeps the counts); its Endpoints follow the config; under prefork it
publishes to the master's SharedDir from the loop's tick. The server's seams are the
methods below: answer (before routing), observe (once per response), tick, draining."""

from __future__ import annotations

from typing import Any

from gateway.metrics.counters import Metrics, Sampler
from gateway.metrics.endpoints import Endpoints
from gateway.metrics.health import HealthState
from gateway.metrics.shared import SharedDir
from gateway.response import Response


class Ops:
    def __init__(self, server_spec: Any, shared: SharedDir | None = None) -> None:
        self.metrics = Metrics()
        self.observe = self.metrics.observe  # bound once: the hot path calls ops.observe(...)
        self.endpoints = Endpoints.from_spec(server_spec)
        self.paths = self.endpoints.paths
        self.shared = shared
        self.draining = False
        self.loaded = True

    def configure(self, server_spec: Any) -> None:
        """A new app was swapped in: its [server] keys decide the paths and who may scrape."""
        self.endpoints = Endpoints.from_spec(server_spec)
        self.paths = self.endpoints.paths

    def set_sampler(self, sample: Sampler) -> None:
        """`sample()` returns the gauges (open_connections, handler_queue, handler_busy,
        handler_threads) when a snapshot is taken."""
        self.metrics.sample = sample

    def answer(self, method: str, path: str, client_ip: str) -> Response | None:
        """The response for an operations path; None for every other path. Callers test
        `path in ops.paths` first to keep the common case at one set lookup."""
        if path not in self.paths:
            return None
        upstreams = tuple((u, s, up) for (u, s), up in self.metrics.upstreams.items())
        state = HealthState(draining=self.draining, loaded=self.loaded, upstreams=upstreams)
        return self.endpoints.answer(method, path, client_ip, self.metrics, state, self.shared)

    def tick(self, now: float) -> None:
        """From the loop's tick (`now` monotonic): let siblings see our counts."""
        if self.shared is not None:
            self.shared.maybe_publish(self.metrics, now)

    def close(self) -> None:
        """At exit: publish the last counts so the master can retire them."""
        if self.shared is not None:
            self.shared.maybe_publish(self.metrics, float("inf"))
