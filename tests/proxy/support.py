"""Helpers for the proxy tests: read proxy config from TOML text the way the loader will."""

from __future__ import annotations

import textwrap
import tomllib
from dataclasses import dataclass, field

from gateway.config.fields import Issues, Section
from gateway.config.locate import locate
from gateway.proxy.config import read_proxy, read_upstreams, trusted_proxies
from gateway.proxy.spec import Network, ProxySpec, UpstreamSpec


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
