"""The proxy's runtime on one worker loop: Upstreams keeps one live Upstream (pools, health,
checks) per upstream spec across reloads, and ProxyRoute is what a compiled route holds to
start an exchange for a request. The seam the app and the HTTP server protocol wire into."""

from __future__ import annotations

import dataclasses
import importlib
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gateway.http.headers import Headers
from gateway.proxy.exchange import ProxyExchange
from gateway.proxy.headers import Client, is_trusted
from gateway.proxy.pool import Upstream
from gateway.proxy.probe import HealthChecks
from gateway.proxy.request import ProxyRequest
from gateway.proxy.seams import Downstream, LoopLike, ParserLike
from gateway.proxy.spec import Network, ProxySpec, UpstreamSpec
from gateway.proxy.wire import origin_form


def response_parser() -> ParserLike:
    """gateway.http.response.ResponseParser for upstream responses (no body limit: the
    client asked for what the upstream sends; the header limits guard our memory)."""
    module = importlib.import_module("gateway.http.response")
    parser: ParserLike = module.ResponseParser(
        max_header_bytes=65536, max_headers=200, max_body_bytes=None
    )
    return parser


def _key(spec: UpstreamSpec) -> tuple[object, ...]:
    """What decides whether a reload changed an upstream: everything but where it is."""
    return tuple(getattr(spec, f.name) for f in dataclasses.fields(spec) if f.name != "where")


class Upstreams:
    """Live upstreams by spec. update() after each (re)load: an unchanged spec keeps its
    Upstream (warm pools, health state); a gone or changed one is closed (idle connections
    now, busy ones as they finish; in-flight exchanges hold the old object and finish on
    it) and its checks stop."""

    def __init__(
        self, loop: LoopLike, parser_factory: Callable[[], ParserLike] = response_parser
    ) -> None:
        self.loop = loop
        self.parser_factory = parser_factory
        self.live: dict[tuple[object, ...], tuple[Upstream, HealthChecks]] = {}
        # get() by the spec object, so a request does not rebuild the key: id -> (spec, upstream)
        self._by_id: dict[int, tuple[UpstreamSpec, Upstream]] = {}
        self._routes: dict[int, tuple[Any, ProxyRoute]] = {}  # id(target) -> its route

    def update(self, specs: Iterable[UpstreamSpec]) -> None:
        self._by_id.clear()
        self._routes.clear()
        wanted = {_key(spec): spec for spec in specs}
        for key in list(self.live):
            if key not in wanted:
                upstream, checks = self.live.pop(key)
                checks.stop()
                upstream.close()
        for key, spec in wanted.items():
            if key not in self.live:
                upstream = Upstream(spec)
                checks = HealthChecks(self.loop, upstream, self.parser_factory)
                self.live[key] = (upstream, checks)
                checks.start()

    def get(self, spec: UpstreamSpec) -> Upstream:
        found = self._by_id.get(id(spec))
        if found is not None and found[0] is spec:
            return found[1]
        upstream = self.live[_key(spec)][0]
        self._by_id[id(spec)] = (spec, upstream)
        return upstream

    def route(self, target: Any) -> ProxyRoute:
        """The ProxyRoute of a compiled ProxyTarget (its rules, upstream and trusted
        proxies) on this loop: made once per target and app, not per request."""
        found = self._routes.get(id(target))
        if found is not None and found[0] is target:
            return found[1]
        route = ProxyRoute(target.rules, self.get(target.upstream), target.trusted)
        self._routes[id(target)] = (target, route)
        return route

    def sweep(self, now: float) -> None:
        """Close idle connections past their idle_timeout (call from the loop's tick)."""
        for upstream, _ in self.live.values():
            upstream.sweep(now)

    def close(self) -> None:
        self.update(())


@dataclass(frozen=True, slots=True)
class ProxyRoute:
    """A route's proxy, compiled: its rules, its live upstream, and the trusted proxies."""

    rules: ProxySpec
    upstream: Upstream
    trusted: tuple[Network, ...] = ()
    parser_factory: Callable[[], ParserLike] = response_parser

    def exchange(
        self,
        loop: LoopLike,
        method: str,
        target: str,
        headers: Headers,
        content_length: int | None,
        chunked: bool,
        peer_ip: str,
        scheme: str,
        downstream: Downstream,
    ) -> ProxyExchange:
        """A new exchange for one request (call start() on it)."""
        trusted = is_trusted(peer_ip, self.trusted) if self.trusted else False
        client = Client(peer_ip, scheme, trusted)
        target, headers = origin_form(target, headers)
        request = ProxyRequest(method, target, headers, client, content_length, chunked)
        return ProxyExchange(
            loop, self.upstream, self.rules, request, downstream, self.parser_factory
        )


def upstream_specs(
    named: dict[str, UpstreamSpec], proxies: Iterable[ProxySpec]
) -> list[UpstreamSpec]:
    """Every upstream a config uses: the named ones and one per `url` shorthand."""
    found = list(named.values())
    found += [proxy.upstream_spec(named) for proxy in proxies if proxy.upstream is None]
    return found


Lookup = Callable[..., Any]


def resolve(
    spec: UpstreamSpec, lookup: Lookup = socket.getaddrinfo
) -> tuple[UpstreamSpec, list[str]]:
    """The spec with each server name looked up once (call it where blocking is fine: the
    thread that builds the app), and a message per name that did not resolve."""
    servers, problems = [], []
    for server in spec.servers:
        if server.is_unix or _is_ip(server.host):
            servers.append(server)
            continue
        try:
            found = lookup(server.host, server.port, type=socket.SOCK_STREAM)
        except OSError as error:
            problems.append(f"cannot resolve {server.host!r}: {error}")
            servers.append(server)
            continue
        ip = str(found[0][4][0])
        servers.append(dataclasses.replace(server, ip=ip))
    return dataclasses.replace(spec, servers=tuple(servers)), problems


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
