"""Active health checks: every `interval`, a GET of the health path to each server of an
upstream on a connection of its own (never a pooled one), answered 2xx or 3xx within
`timeout` or counted as a failure. Results go to the upstream's Health state machine."""

from __future__ import annotations

import logging
from collections.abc import Callable

from gateway.proxy.connection import UpstreamConnection
from gateway.proxy.pool import Upstream
from gateway.proxy.seams import LoopLike, ParserLike, ResponseHeadLike, TimerLike

log = logging.getLogger("gateway.proxy")


class Probe:
    """One check of one server; calls done(index, passed) exactly once."""

    def __init__(
        self,
        loop: LoopLike,
        upstream: Upstream,
        index: int,
        parser_factory: Callable[[], ParserLike],
        done: Callable[[int, bool, str], None],
    ) -> None:
        self.loop = loop
        self.upstream = upstream
        self.index = index
        self.done = done
        self.finished = False
        server = upstream.spec.servers[index]
        self.conn = UpstreamConnection(server, parser_factory())
        self.timer: TimerLike | None = None

    def start(self) -> None:
        checks = self.upstream.spec.health
        assert checks is not None
        self.conn.begin(self, "GET")
        self.timer = self.loop.call_later(checks.timeout, self._timed_out)
        protocol = self.upstream.protocol_for(self.conn.server, self.conn)
        self.conn.dialing = self.loop.connect(self.conn.server.connect_to, lambda: protocol)

    def on_connected(self) -> None:
        checks = self.upstream.spec.health
        assert checks is not None
        head = (
            f"GET {checks.path} HTTP/1.1\r\nhost: {self.conn.server.host_header}\r\n"
            "user-agent: gateway-health-check\r\nconnection: close\r\n\r\n"
        )
        self.conn.write(head.encode("latin-1"))

    def on_head(self, head: ResponseHeadLike) -> None:
        if head.status >= 200:
            passed = head.status < 400
            self._finish(passed, "" if passed else f"answered {head.status}")

    def on_data(self, data: bytes) -> None:
        pass

    def on_end(self, trailers: list[tuple[str, str]] | None) -> None:
        pass

    def on_broken(self, what: str, bad_response: bool = False) -> None:
        self._finish(False, what)

    def on_upstream_full(self) -> None:
        pass

    def on_upstream_drained(self) -> None:
        pass

    def _timed_out(self) -> None:
        self.timer = None
        checks = self.upstream.spec.health
        assert checks is not None
        self._finish(False, f"no answer within {checks.timeout:g}s")

    def _finish(self, passed: bool, why: str) -> None:
        if self.finished:
            return
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()
        self.conn.close()
        self.done(self.index, passed, why)


class HealthChecks:
    """Runs the checks of one upstream on the loop until stop() (a reload that drops or
    replaces the upstream stops them)."""

    def __init__(
        self, loop: LoopLike, upstream: Upstream, parser_factory: Callable[[], ParserLike]
    ) -> None:
        self.loop = loop
        self.upstream = upstream
        self.parser_factory = parser_factory
        self.timer: TimerLike | None = None
        self.stopped = False
        self.running: dict[int, Probe] = {}

    def start(self) -> None:
        if self.upstream.spec.health is not None:
            self._tick()

    def stop(self) -> None:
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for probe in list(self.running.values()):
            probe.finished = True
            probe.conn.close()
        self.running.clear()

    def _tick(self) -> None:
        self.timer = None
        if self.stopped:
            return
        now = self.loop.now
        for index in self.upstream.health.due(now):
            if index not in self.running:  # a check still out is not doubled
                probe = Probe(self.loop, self.upstream, index, self.parser_factory, self._done)
                self.running[index] = probe
                probe.start()
        wait = self.upstream.health.next_check_in(now)
        if wait is not None:
            self.timer = self.loop.call_later(max(wait, 0.001), self._tick)

    def _done(self, index: int, passed: bool, why: str) -> None:
        self.running.pop(index, None)
        if self.stopped:
            return
        if self.upstream.health.checked(index, passed):
            name, server = self.upstream.spec.name, self.upstream.names[index]
            if passed:
                log.warning("upstream %r server %s is up again (health check passed)", name, server)
            else:
                log.warning("upstream %r server %s is down (health check: %s)", name, server, why)
