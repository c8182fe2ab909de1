"""Upstreams across reloads: unchanged specs keep their pools and health, removed or changed
ones close and stop their checks; ProxyRoute builds exchanges with the trust decision."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket

from gateway.config.schema import Where
from gateway.http.headers import Headers
from gateway.proxy.config import server_address
from gateway.proxy.runtime import ProxyRoute, Upstreams, resolve, upstream_specs
from gateway.proxy.spec import HealthSpec, ProxySpec, UpstreamSpec
from tests.proxy.fakes import FakeDownstream, FakeLoop, parser_factory

API = UpstreamSpec(
    "api", (server_address("127.0.0.1:9001"),), where=Where("gateway.toml", "upstream.api", 3)
)
OTHER = UpstreamSpec("other", (server_address("127.0.0.1:9002"),), health=HealthSpec(interval=5.0))


def test_reload_keeps_unchanged_and_closes_removed() -> None:
    loop = FakeLoop()
    ups = Upstreams(loop, parser_factory())
    ups.update([API, OTHER])
    api, other = ups.get(API), ups.get(OTHER)
    assert len(loop.dials) == 1  # OTHER's health check
    # the same spec on another line is the same upstream: pools stay warm
    moved = dataclasses.replace(API, where=Where("gateway.toml", "upstream.api", 9))
    ups.update([moved])
    assert ups.get(moved) is api
    assert other.pools[0].closed and loop.dials[0][1].aborted
    loop.advance(30)
    assert len(loop.dials) == 1  # checks stopped
    changed = dataclasses.replace(API, balance="least_conn")
    ups.update([changed])
    assert ups.get(changed) is not api and api.pools[0].closed
    ups.close()
    assert ups.live == {}


def test_upstream_specs_includes_shorthands() -> None:
    short = ProxySpec(url=server_address("127.0.0.1:5173"))
    specs = upstream_specs({"api": API}, [ProxySpec(upstream="api"), short])
    assert [s.name for s in specs] == ["api", "127.0.0.1:5173"]


def test_proxy_route_trusts_only_trusted_peers() -> None:
    loop = FakeLoop()
    ups = Upstreams(loop, parser_factory())
    ups.update([API])
    route = ProxyRoute(
        ProxySpec(upstream="api"),
        ups.get(API),
        (ipaddress.ip_network("10.0.0.0/8"),),
        parser_factory(),
    )
    fields = Headers([("host", "h"), ("x-forwarded-for", "1.1.1.1")])
    for peer, expected in (
        ("10.0.0.2", b"x-forwarded-for: 1.1.1.1, 10.0.0.2"),
        ("8.8.8.8", b"x-forwarded-for: 8.8.8.8\r\n"),
    ):
        ex = route.exchange(loop, "GET", "/", fields, None, False, peer, "http", FakeDownstream())
        ex.start()
        transport = loop.dials[-1][1]
        transport.made()
        assert expected in transport.take()


def test_resolve_looks_names_up_once() -> None:
    spec = UpstreamSpec(
        "api",
        tuple(
            server_address(s)
            for s in ("localhost:80", "10.0.0.1:80", "unix:/a.sock", "no-such-host.invalid:80")
        ),
    )
    calls = []

    def lookup(host: str, port: int, type: int) -> list[tuple[object, ...]]:
        calls.append(host)
        if host.endswith(".invalid"):
            raise socket.gaierror(-2, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    resolved, problems = resolve(spec, lookup)
    assert calls == ["localhost", "no-such-host.invalid"]
    assert [s.connect_to for s in resolved.servers] == [
        ("127.0.0.1", 80),
        ("10.0.0.1", 80),
        "/a.sock",
        ("no-such-host.invalid", 80),
    ]
    assert resolved.servers[0].host_header == "localhost:80"  # Host still names the server
    assert problems == [
        "cannot resolve 'no-such-host.invalid': [Errno -2] Name or service not known"
    ]
