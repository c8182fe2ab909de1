"""The parsed form of [upstream.NAME] tables and a route's `proxy` key: frozen specs holding
plain values (seconds, counts, addresses), each with a Where for later error messages."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from gateway.config.where import NOWHERE, Where

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """One upstream server: a TCP host and port, or a unix socket path."""

    host: str = ""  # without brackets for IPv6
    port: int = 0
    path: str = ""  # set for unix sockets only
    ip: str = (
        ""  # `host` resolved when the app is built (runtime.resolve), so no lookup blocks the loop
    )
    tls: bool = False  # https:// (or the upstream's tls = true): TLS with SNI = host

    @property
    def is_unix(self) -> bool:
        return bool(self.path)

    @property
    def connect_to(self) -> tuple[str, int] | str:
        """What socket.connect (and Loop.connect) take."""
        return self.path if self.path else (self.ip or self.host, self.port)

    @property
    def host_header(self) -> str:
        """The Host value naming this server (for `host = "{upstream}"`)."""
        if self.path:
            return "localhost"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path else self.host_header


@dataclass(frozen=True, slots=True)
class HealthSpec:
    """Active checks: GET `path` every `interval`; `fails` failures in a row mark a server
    down, `passes` successes in a row bring it back."""

    path: str = "/"
    interval: float = 5.0
    timeout: float = 1.0
    fails: int = 2
    passes: int = 1  # any 2xx or 3xx answer within `timeout` is a pass


@dataclass(frozen=True, slots=True)
class KeepaliveSpec:
    """The idle pool per server: 0 max_idle turns reuse off."""

    max_idle: int = 32
    idle_timeout: float = 60.0
    max_requests: int = 1000


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    name: str
    servers: tuple[ServerAddress, ...]
    balance: str = (
        "round_robin"  # round_robin | least_conn | random_two | ip_hash | header:X | cookie:X
    )
    health: HealthSpec | None = None  # None: passive checks only
    max_fails: int = 3  # passive: failures in a row that mark a server down (0: never)
    fail_timeout: float = 10.0  # passive: how long it stays down before it is tried again
    keepalive: KeepaliveSpec = KeepaliveSpec()
    connect_timeout: float = 5.0
    read_timeout: float = 60.0  # the longest wait for the next bytes of a response
    verify: bool = True  # TLS servers: check the certificate and the name (False: dev only)
    ca: str | None = None  # TLS servers: a PEM file of trusted CAs instead of the system's
    where: Where = NOWHERE

    @property
    def tls(self) -> bool:
        return any(server.tls for server in self.servers)


@dataclass(frozen=True, slots=True)
class ProxySpec:
    """A route's `proxy`: which upstream, and how the request and response are rewritten.
    `upstream` is an [upstream.NAME] name, or None when `url` names one server inline."""

    upstream: str | None = None
    url: ServerAddress | None = None
    strip_prefix: str = ""
    host: str | None = None  # None: pass the client's Host; "{upstream}": the server's
    timeout: float | None = None  # overrides the upstream's read_timeout for this route
    retries: int = 1
    headers: tuple[tuple[str, str], ...] = ()  # set on the request to the upstream
    remove_headers: tuple[str, ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()  # set on the response to the client
    remove_response_headers: tuple[str, ...] = ()
    upgrades: tuple[str, ...] = ("websocket",)  # Upgrade protocols passed through (lowercase)
    splice: bool = True  # zero-copy large bodies between plain TCP sockets
    tunnel_idle_timeout: float = 3600.0  # a 101 tunnel with no byte either way this long closes
    where: Where = NOWHERE

    def upstream_spec(self, upstreams: dict[str, UpstreamSpec]) -> UpstreamSpec:
        """The upstream this route sends to: a named one, or one server from the shorthand."""
        if self.upstream is not None:
            return upstreams[self.upstream]
        assert self.url is not None
        return UpstreamSpec(name=str(self.url), servers=(self.url,), where=self.where)
