"""Helpers for the proxy tests: read proxy config from TOML text the way the loader will,
run `gateway serve` from a config (serving), proxying everything to a raw Origin, or
balancing over echo upstreams, and read a raw client socket to its close."""

from __future__ import annotations

import socket
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gateway.config.fields import Issues, Section
from gateway.config.locate import locate
from gateway.proxy.config import read_proxy, read_upstreams, trusted_proxies
from gateway.proxy.spec import Network, ProxySpec, UpstreamSpec
from tests.proxy.upstream import Origin, Upstream, upstream
from tests.support import Running, running_server, write_site


@dataclass
class Read:
    upstreams: dict[str, UpstreamSpec]
    proxies: list[ProxySpec | None]
    trusted: tuple[Network, ...] = ()
    issues: list[str] = field(default_factory=list)


def read(text: str) -> Read:
    """[upstream.*], each [[route]]'s proxy and [server] trusted_proxies from `text`."""
    text = textwrap.dedent(text)
    issues = Issues("gateway.toml", locate(text))
    top = Section(issues, (), tomllib.loads(text))
    names, upstreams = read_upstreams(top.table("upstream") or Section(issues, ("upstream",), {}))
    proxies = []
    for route in top.tables("route"):
        path = route.data.get("path")
        proxies.append(read_proxy(route, path if isinstance(path, str) else None, names))
    server = top.table("server") or Section(issues, ("server",), {})
    trusted = server.get("trusted_proxies", trusted_proxies, ())
    return Read(upstreams, proxies, trusted, [str(issue) for issue in issues.sorted()])


@contextmanager
def serving(tmp_path: Path, config: str, log: str = "off") -> Iterator[Running]:
    """`gateway serve` on 127.0.0.1:0 of `config` (TOML, dedented) after `[server]` and
    `access_log = log`: config may begin with more [server] keys."""
    path = write_site(tmp_path, f'[server]\naccess_log = "{log}"\n' + textwrap.dedent(config))
    with running_server(path) as running:
        yield running


@contextmanager
def origin_proxied(
    tmp_path: Path, handle: Callable[[socket.socket], None], route: str = "", server: str = ""
) -> Iterator[tuple[int, Origin]]:
    """`gateway serve` with one catch-all proxy route (every method) to a raw Origin running
    `handle`: yields (the gateway's port, the origin). `route` adds keys to the route's
    proxy table (", splice = false"), `server` lines to [server]."""
    origin = Origin(handle)
    config = f"""
        {server}

        [[route]]
        path = "/{{rest:path}}"
        methods = ["*"]
        proxy = {{ url = "http://127.0.0.1:{origin.port}"{route} }}
        """
    try:
        with serving(tmp_path, config) as running:
            yield running.port, origin
    finally:
        origin.close()


@contextmanager
def balanced(tmp_path: Path, policy: str, count: int = 2) -> Iterator[tuple[str, list[Upstream]]]:
    """`count` echo upstreams named a, b, ... behind one [upstream.api] with `balance =
    policy`, every path proxied to it: yields (the gateway's URL, the upstreams)."""
    with ExitStack() as stack:
        ups = [stack.enter_context(upstream(name)) for name in "abcd"[:count]]
        servers = ", ".join(f'"127.0.0.1:{u.port}"' for u in ups)
        config = f"""
            [upstream.api]
            servers = [{servers}]
            balance = "{policy}"

            [[route]]
            path = "/{{rest:path}}"
            proxy = {{ upstream = "api" }}
            """
        running = stack.enter_context(serving(tmp_path, config))
        yield running.url, ups


def read_to_close(sock: socket.socket) -> bytes:
    """Everything sock receives until the peer closes (a reset ends it too)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data
