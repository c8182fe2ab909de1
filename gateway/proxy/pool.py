"""Keep-alive pools: the idle connections to each upstream server, reused newest first,
bounded by max_idle (or by the requests in flight at once lately, when more), closed after
idle_timeout or max_requests; and Upstream, the runtime of one [upstream.NAME] (its servers'
pools, balancer and health) that exchanges share."""

from __future__ import annotations

import collections
import logging
import random
import ssl
from collections.abc import Collection
from typing import Any

from gateway.http.headers import Headers
from gateway.proxy.balance import Balancer
from gateway.proxy.connection import State, UpstreamConnection
from gateway.proxy.deadlines import Deadlines
from gateway.proxy.health import Health
from gateway.proxy.spec import KeepaliveSpec, ServerAddress, UpstreamSpec
from gateway.proxy.tlsclient import TlsClient, client_context

log = logging.getLogger("gateway.proxy")


class ServerPool:
    """One server's idle connections and its count of requests in flight."""

    def __init__(self, server: ServerAddress, keepalive: KeepaliveSpec) -> None:
        self.server = server
        self.keepalive = keepalive
        self.idle: collections.deque[UpstreamConnection] = collections.deque()
        self.active = 0  # requests (and tunnels) in flight: least_conn and random_two read it
        # The most requests in flight at once since the last sweep (the exchange raises it).
        # While the load needs more connections than max_idle, that many stay pooled: closing
        # the ones over max_idle as each response ends would only open new ones for the next
        # requests (a connect, a handshake and a close each, on both sides). Like HAProxy's
        # pool-purge-delay, the sweep trims the pool back once the load has gone.
        self.peak = 0
        self.closed = False

    def take(self, now: float) -> UpstreamConnection | None:
        """The most recently used idle connection that is still good, or None."""
        while self.idle:
            conn = self.idle.pop()
            if conn.state is State.IDLE and now - conn.idle_since < self.keepalive.idle_timeout:
                return conn
            conn.close()
        return None

    def put(self, conn: UpstreamConnection, now: float) -> None:
        """Keep a connection that finished a response, if it may serve another."""
        keep = self.keepalive
        if (
            self.closed
            or conn.state is not State.IDLE
            or conn.requests >= keep.max_requests
            or keep.max_idle == 0  # reuse is off
            or (len(self.idle) >= keep.max_idle and len(self.idle) >= self.peak)
        ):
            conn.close()
            return
        conn.idle_since = now
        self.idle.append(conn)

    def sweep(self, now: float) -> None:
        """Close idle connections past idle_timeout and forget closed ones (oldest first),
        then those over max_idle, or over the peak in flight since the last sweep when more
        (a load that has gone: its connections are closed by the second sweep after it)."""
        timeout = self.keepalive.idle_timeout
        idle = self.idle
        while idle and (idle[0].state is not State.IDLE or now - idle[0].idle_since >= timeout):
            idle.popleft().close()
        keep = max(self.keepalive.max_idle, self.peak)
        while len(idle) > keep:
            idle.popleft().close()
        self.peak = self.active

    def close(self) -> None:
        """Close every idle connection; connections still in use close when they finish."""
        self.closed = True
        while self.idle:
            self.idle.pop().close()


class Upstream:
    """One upstream's shared state on a worker's loop: built from its spec when an app is
    compiled; a reload that keeps the same spec should keep the same Upstream (pools stay
    warm), one that drops it calls close()."""

    def __init__(self, spec: UpstreamSpec, rng: random.Random | None = None) -> None:
        self.spec = spec
        self.names = [str(server) for server in spec.servers]
        self.pools = [ServerPool(server, spec.keepalive) for server in spec.servers]
        self.single = len(self.pools) == 1  # nothing to balance (the exchange skips pick())
        self.balancer = Balancer(spec.balance, self.names, rng)
        self.health = Health(len(spec.servers), spec.max_fails, spec.fail_timeout, spec.health)
        self.deadlines: Deadlines | None = None  # the exchanges' timeouts (made by the first)
        # One client context per upstream (loading a trust store is not per connection).
        self.tls_context = self._tls_context() if spec.tls else None

    def _tls_context(self) -> ssl.SSLContext:
        try:
            return client_context(self.spec.verify, self.spec.ca)
        except (ssl.SSLError, OSError) as error:  # the ca file changed since it was checked
            log.error(
                "upstream %r: cannot use ca %r (%s); trusting the system's store only",
                self.spec.name,
                self.spec.ca,
                error,
            )
            return client_context(self.spec.verify)

    def protocol_for(self, server: ServerAddress, conn: UpstreamConnection) -> Any:
        """What Loop.connect runs for `conn` to `server`: conn itself, or TLS around it."""
        if self.tls_context is None or not server.tls:
            return conn
        return TlsClient(self.tls_context, server.host, conn)

    def pick(
        self, now: float, tried: Collection[int], client_ip: str, headers: Headers
    ) -> int | None:
        """The server for the next attempt of a request (None: none is left to try)."""
        if len(self.pools) == 1:  # one server: nothing to balance
            return None if tried or not self.health.is_up(0, now) else 0
        return self.balancer.pick(self.candidates(now, tried), self.active(), client_ip, headers)

    def candidates(self, now: float, tried: Collection[int]) -> list[int]:
        return [i for i in self.health.up(now) if i not in tried]

    def active(self) -> list[int]:
        return [pool.active for pool in self.pools]

    def sweep(self, now: float) -> None:
        for pool in self.pools:
            pool.sweep(now)

    def close(self) -> None:
        for pool in self.pools:
            pool.close()
