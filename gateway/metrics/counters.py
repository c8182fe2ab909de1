"""Metrics of one process: plain ints and lists that only the loop thread touches, so the
hot path (`observe`, once per response) pays a few increments, no lock and no syscall.
Gauges are sampled when a snapshot is taken, never kept up to date per request."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

# Request-latency buckets in seconds (upper bounds; +Inf is implied), fixed so that every
# worker's histograms add up bucket by bucket.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A client picks the method: anything else is counted as OTHER, so no request can grow
# the number of series.
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"))
UNMATCHED = "(unmatched)"  # the route label of requests no route or mount matched
_FIRST = BUCKETS[0]
_ZERO = [0, 0.0] + [0] * (len(BUCKETS) + 1)

Sampler = Callable[[], dict[str, float]]


class RouteStats:
    """One route's counters: requests by (method, status class) and a latency histogram."""

    __slots__ = ("buckets", "requests", "seconds")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}  # (method, status // 100)
        self.buckets = [0] * (len(BUCKETS) + 1)  # per bucket, not cumulative; last is +Inf
        self.seconds = 0.0


class Metrics:
    """The counters of one process. `observe` is the one call per response; the server
    sets `sample` to a function returning its gauges (connections, pool) for snapshots."""

    def __init__(self) -> None:
        self.routes: dict[str, RouteStats] = {}
        self.bytes_in = 0
        self.bytes_out = 0
        self.sample: Sampler | None = None
        # Called first by snapshot(): counts kept elsewhere (the response cache's hits,
        # counted on their entries for speed) are added here before anyone reads them.
        self.folds: dict[str, Callable[[], None]] = {"cells": self._fold_cells}
        # (route, method, status) -> [count, seconds, count per bucket...] (observe)
        self._cells: dict[tuple[str, str, int], list[Any]] = {}
        self.reloads = {"success": 0, "failure": 0}
        self.last_reload: tuple[float, bool] | None = None  # (unix time, succeeded)
        self.upstreams: dict[tuple[str, str], bool] = {}

    def observe(
        self,
        route: str,
        method: str,
        status: int,
        seconds: float,
        bytes_in: int = 0,
        bytes_out: int = 0,
    ) -> None:
        """Count one response: `route` is its route's label (UNMATCHED when none matched),
        `seconds` from the request's first byte to the response being queued. One dict
        lookup: the counts go to a cell per (route, method, status), folded into `routes`
        when a snapshot is taken (_fold_cells)."""
        cell = self._cells.get((route, method, status))
        if cell is None:
            cell = self._cell(route, method, status)
        cell[0] += 1
        cell[1] += seconds
        # Most answers take under the first bucket's bound: no bisect for them.
        cell[2 if seconds <= _FIRST else 2 + bisect_left(BUCKETS, seconds)] += 1
        self.bytes_in += bytes_in
        self.bytes_out += bytes_out

    def _cell(self, route: str, method: str, status: int) -> list[Any]:
        """The cell for a new (route, method, status). A method no route can have is
        OTHER and a status outside 100-599 counts as 599 (a server error), kept under
        that key only, so a client cannot add cells."""
        if method not in METHODS or not 100 <= status <= 599:
            method = method if method in METHODS else "OTHER"
            status = status if 100 <= status <= 599 else 599
            cell = self._cells.get((route, method, status))
            if cell is not None:
                return cell
        cell = [0, 0.0] + [0] * (len(BUCKETS) + 1)
        self._cells[(route, method, status)] = cell
        return cell

    def _fold_cells(self) -> None:
        """Add what the cells counted to `routes` (requests by method and status class,
        the latency histogram) and start them again from zero."""
        for (route, method, status), cell in self._cells.items():
            count = cell[0]
            if not count:
                continue
            try:
                stats = self.routes[route]
            except KeyError:
                stats = self.routes[route] = RouteStats()
            key = (method, status // 100)
            stats.requests[key] = stats.requests.get(key, 0) + count
            stats.seconds += cell[1]
            buckets = stats.buckets
            for i in range(len(buckets)):
                buckets[i] += cell[2 + i]
            cell[:] = _ZERO

    def add_answers(self, route: str, method: str, status: int, count: int, out: int) -> None:
        """Count `count` answers at once that each took no time (under the first bucket)
        and sent `out` body bytes in all: the response cache's hits, folded in."""
        try:
            stats = self.routes[route]
        except KeyError:
            stats = self.routes[route] = RouteStats()
        key = (method if method in METHODS else "OTHER", status // 100)
        stats.requests[key] = stats.requests.get(key, 0) + count
        stats.buckets[0] += count
        self.bytes_out += out

    def reloaded(self, ok: bool, when: float) -> None:
        """Count a reload (a rebuild after an edit or SIGHUP) and remember its outcome."""
        self.reloads["success" if ok else "failure"] += 1
        self.last_reload = (when, ok)

    def set_upstream(self, upstream: str, server: str, up: bool) -> None:
        """The proxy's health checks report each upstream server here."""
        self.upstreams[(upstream, server)] = up

    def forget_upstreams(self) -> None:
        """After a reload that changed the upstreams: drop servers no longer configured."""
        self.upstreams.clear()

    def snapshot(self) -> dict[str, Any]:
        """Everything, as plain JSON-ready data (what a worker writes for its siblings)."""
        for fold in list(self.folds.values()):
            fold()
        return {
            "routes": {
                label: {
                    "requests": [[m, status_class(c), n] for (m, c), n in stats.requests.items()],
                    "buckets": list(stats.buckets),
                    "seconds": stats.seconds,
                }
                for label, stats in self.routes.items()
            },
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "gauges": dict(self.sample()) if self.sample is not None else {},
            "reloads": dict(self.reloads),
            "last_reload": list(self.last_reload) if self.last_reload else None,
            "upstreams": [[u, s, up] for (u, s), up in self.upstreams.items()],
        }


def status_class(hundreds: int) -> str:
    """2 -> "2xx"; a status outside 100-599 (a handler's mistake) counts as a server error."""
    return f"{hundreds}xx" if 1 <= hundreds <= 5 else "5xx"
