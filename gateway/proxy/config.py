"""Readers for [upstream.NAME] tables, a route's `proxy` key and [server] trusted_proxies.
Like the rest of gateway.config they collect every problem as a ConfigIssue on its line
(through Section) and leave a broken upstream or proxy out of the result."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import ssl
from collections.abc import Collection
from pathlib import Path

from gateway.config import values as v
from gateway.config.fields import Convert, Invalid, Section, expected, suggest
from gateway.config.locate import format_key
from gateway.proxy.spec import (
    HealthSpec,
    KeepaliveSpec,
    Network,
    ProxySpec,
    ServerAddress,
    UpstreamSpec,
)

UPSTREAM_KEYS = (
    "servers",
    "balance",
    "health",
    "max_fails",
    "fail_timeout",
    "keepalive",
    "connect_timeout",
    "read_timeout",
    "tls",
    "verify",
    "ca",
)
HEALTH_KEYS = ("path", "interval", "timeout", "fails", "passes")
KEEPALIVE_KEYS = ("max_idle", "idle_timeout", "max_requests")
PROXY_KEYS = (
    "upstream",
    "url",
    "strip_prefix",
    "host",
    "timeout",
    "retries",
    "headers",
    "remove_headers",
    "response_headers",
    "remove_response_headers",
    "upgrades",
    "splice",
    "tunnel_idle_timeout",
)
BALANCES = ("round_robin", "least_conn", "random_two", "ip_hash", "header:NAME", "cookie:NAME")
UPSTREAM_HOST = "{upstream}"

_SERVER_HELP = "write e.g. '127.0.0.1:9001', '[::1]:9001' or 'unix:/run/app.sock'"
_HOST = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_COOKIE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UPSTREAM = UpstreamSpec("", ())
_HEALTH = HealthSpec()
_KEEPALIVE = KeepaliveSpec()
_PROXY = ProxySpec()


def server_entry(value: object) -> ServerAddress:
    """A `servers` item: an address, or 'https://host[:port]' (TLS, port 443 by default)
    or 'http://host[:port]' (port 80)."""
    text = v.string(value)
    if text.lower().startswith(("http://", "https://")):
        return server_url(text)
    return server_address(text)


def server_address(value: object) -> ServerAddress:
    """'host:port', '[v6]:port' or 'unix:/absolute/path'."""
    text = v.string(value)
    if text.startswith("unix:"):
        path = text[5:]
        if not path.startswith("/") or "\0" in path:
            raise Invalid(
                f"{text!r} needs an absolute socket path: write e.g. 'unix:/run/app.sock'"
            )
        return ServerAddress(path=path)
    if "://" in text:
        raise Invalid(f"{text!r} is a URL; servers are addresses: {_SERVER_HELP}")
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        good_host = _is_ip(host, 6)
    else:
        good_host = bool(_HOST.fullmatch(host))
    if not colon or not good_host or not port.isascii() or not port.isdigit():
        raise Invalid(f"{text!r} is not host:port: {_SERVER_HELP}")
    if not 1 <= int(port) <= 65535:
        raise Invalid(f"{text!r} has port {int(port)}: ports go from 1 to 65535")
    return ServerAddress(host=host, port=int(port))


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def server_url(value: object) -> ServerAddress:
    """The shorthand's 'http://host[:port][/]' (port 80 by default) or 'https://...' (TLS,
    port 443 by default)."""
    text = v.string(value)
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise Invalid(f"{text!r} is not an http:// URL: write e.g. 'http://127.0.0.1:9001'")
    tls = scheme == "https"
    if rest.startswith("unix:"):
        if tls:
            raise Invalid(f"{text!r}: TLS over a unix socket is not supported; use http://")
        return server_address(rest)
    authority, _, path = rest.partition("/")
    if path or "?" in authority or "#" in authority:
        raise Invalid(
            f"{text!r} has a path; the proxy sends the request's own path: "
            "write the URL without one and use strip_prefix to drop a prefix"
        )
    if authority.endswith("]") or ":" not in authority:
        authority = f"{authority}:{443 if tls else 80}"
    address = server_address(authority)
    return dataclasses.replace(address, tls=True) if tls else address


def servers(value: object) -> tuple[ServerAddress, ...]:
    found = v.each(value, server_entry, "a list of server addresses")
    if not found:
        raise Invalid(f"needs at least one server: {_SERVER_HELP}")
    seen: set[ServerAddress] = set()
    for index, server in enumerate(found):
        if server in seen:
            raise Invalid(f"{str(server)!r} is listed twice", (index,))
        seen.add(server)
    return tuple(found)


def balance(value: object) -> str:
    text = v.string(value)
    kind, colon, name = text.partition(":")
    if kind in ("header", "cookie") and colon:
        pattern = v.TOKEN if kind == "header" else _COOKIE
        if not pattern.fullmatch(name):
            raise Invalid(f"{text!r} needs a {kind} name after ':': write e.g. '{kind}:X-User'")
        return f"{kind}:{name.lower() if kind == 'header' else name}"
    if text in BALANCES and ":" not in text:
        return text
    hint = suggest(text, BALANCES)
    options = ", ".join(repr(option) for option in BALANCES)
    raise Invalid(f"{text!r} is not a balance policy{hint}: use one of {options}")


def upstream_ref(names: Collection[str]) -> Convert[str]:
    def convert(value: object) -> str:
        text = v.string(value)
        if text not in names:
            if "://" in text:
                raise Invalid(f"{text!r} is a URL: write it as url = {text!r}")
            raise Invalid(
                f"no upstream named {text!r}{suggest(text, names)}; "
                f"define it as [{format_key(('upstream', text))}]"
            )
        return text

    return convert


def read_upstreams(section: Section) -> tuple[list[str], dict[str, UpstreamSpec]]:
    """Every upstream name declared (so a route naming a broken one is not reported twice)
    and the upstreams that read cleanly."""
    found = {}
    for name, value in section.named("upstream", "an upstream", UPSTREAM_KEYS):
        spec = read_upstream(Section(section.issues, (*section.path, name), value, section), name)
        if spec is not None:
            found[name] = spec
    return list(section.data), found


def read_upstream(section: Section, name: str) -> UpstreamSpec | None:
    section.check_keys(UPSTREAM_KEYS)
    d = _UPSTREAM
    get = section.get
    spec = UpstreamSpec(
        name=name,
        servers=section.require("servers", servers) or (),
        balance=get("balance", balance, d.balance),
        health=read_health(section.table("health")),
        max_fails=get("max_fails", v.integer(0), d.max_fails),
        fail_timeout=get("fail_timeout", v.duration(positive=True), d.fail_timeout),
        keepalive=read_keepalive(section.table("keepalive")),
        connect_timeout=get("connect_timeout", v.duration(positive=True), d.connect_timeout),
        read_timeout=get("read_timeout", v.duration(positive=True), d.read_timeout),
        verify=get("verify", v.boolean, d.verify),
        ca=ca_file(section),
        where=section.where,
    )
    if get("tls", v.boolean, False):
        spec = dataclasses.replace(spec, servers=tuple(tls_server(s) for s in spec.servers))
    if spec.servers and spec.tls and not all(s.tls for s in spec.servers):
        section.fail("servers", "mixes http and https servers: list one kind per upstream")
    if (spec.ca is not None or section.has("verify")) and section.ok and not spec.tls:
        section.fail("ca" if spec.ca else "verify", "is for TLS upstreams: add tls = true")
    if any(s.tls and s.is_unix for s in spec.servers):
        section.fail("tls", "TLS over a unix socket is not supported")
    return spec if section.ok else None


def tls_server(server: ServerAddress) -> ServerAddress:
    return dataclasses.replace(server, tls=True)


def ca_file(section: Section) -> str | None:
    """`ca`: a PEM file, relative to the folder of the file that sets it (an included
    file's own folder, not the main file's)."""
    base = Path(section.issues.place((*section.path, "ca"))[0]).parent
    found = section.get("ca", v.file(base, check=True), None)
    if found is None:
        return None
    try:
        ssl.create_default_context(cafile=str(found))
    except (ssl.SSLError, OSError) as error:
        section.fail("ca", f"{str(found)!r} holds no usable PEM certificates ({error})")
    return str(found)


def read_health(section: Section | None) -> HealthSpec | None:
    if section is None:
        return None
    section.check_keys(HEALTH_KEYS)
    d, get = _HEALTH, section.get
    spec = HealthSpec(
        path=get("path", url_path, d.path),
        interval=get("interval", v.duration(positive=True), d.interval),
        timeout=get("timeout", v.duration(positive=True), d.timeout),
        fails=get("fails", v.integer(1), d.fails),
        passes=get("passes", v.integer(1), d.passes),
    )
    if section.ok and spec.timeout > spec.interval:
        section.fail(
            "timeout", f"{spec.timeout:g}s is longer than the interval ({spec.interval:g}s)"
        )
    return spec


def read_keepalive(section: Section | None) -> KeepaliveSpec:
    if section is None:
        return _KEEPALIVE
    section.check_keys(KEEPALIVE_KEYS)
    d, get = _KEEPALIVE, section.get
    return KeepaliveSpec(
        max_idle=get("max_idle", v.integer(0), d.max_idle),
        idle_timeout=get("idle_timeout", v.duration(positive=True), d.idle_timeout),
        max_requests=get("max_requests", v.integer(1), d.max_requests),
    )


def url_path(value: object) -> str:
    """A path for a request line: ASCII without spaces or controls (line_text's message
    spoke of a header, which this is not)."""
    text = v.string(value)
    if not text.startswith("/") or any(c <= " " or c >= "\x7f" for c in text):
        raise Invalid(f"{text!r} is not a path: write e.g. '/healthz'")
    return text


_HOST_VALUE = re.compile(r"([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


def host_value(value: object) -> str:
    """proxy.host: the Host sent upstream, host[:port] (RFC 9110 7.2), or "{upstream}"."""
    text = v.string(value)
    if text != "{upstream}" and not _HOST_VALUE.fullmatch(text):
        raise Invalid(
            f"{text!r} is not a host: write e.g. 'api.example.com' or 'api.example.com:8080',"
            " or '{upstream}' for the server's own"
        )
    return text


def read_proxy(
    route: Section, route_path: str | None, upstreams: Collection[str]
) -> ProxySpec | None:
    """The route's `proxy` key: a table, or the shorthand string 'http://host:port'.
    None when the key is absent or has a problem (recorded on `route`)."""
    value = route.data.get("proxy")
    if value is None:
        return None
    if isinstance(value, str):
        url = route.get("proxy", server_url, None)
        return ProxySpec(url=url, where=route.where) if url is not None else None
    if not isinstance(value, dict):
        what = "a table like { upstream = 'api' } or a URL like 'http://127.0.0.1:9001'"
        route.fail("proxy", expected(what, value).problems[0][1])
        return None
    section = Section(route.issues, (*route.path, "proxy"), value, parent=route)
    return read_proxy_table(section, route_path, upstreams)


def read_proxy_table(
    section: Section, route_path: str | None, upstreams: Collection[str]
) -> ProxySpec | None:
    section.check_keys(PROXY_KEYS)
    d, get = _PROXY, section.get
    has_upstream, has_url = section.has("upstream"), section.has("url")
    if has_upstream == has_url:
        which = "both" if has_upstream else "neither"
        section.fail(None, f"sets {which} of 'upstream' and 'url': set one")
    strip = get("strip_prefix", url_path, "")
    if strip and route_path is not None:
        check_prefix(section, strip, route_path)
    spec = ProxySpec(
        upstream=get("upstream", upstream_ref(upstreams), None),
        url=get("url", server_url, None),
        strip_prefix=strip.rstrip("/"),
        host=get("host", host_value, None),
        timeout=get("timeout", v.duration(positive=True), None),
        retries=get("retries", v.integer(0, 10), d.retries),
        headers=get("headers", v.headers, ()),
        remove_headers=lowered(get("remove_headers", v.header_names, ())),
        response_headers=get("response_headers", v.headers, ()),
        remove_response_headers=lowered(get("remove_response_headers", v.header_names, ())),
        upgrades=lowered(get("upgrades", v.header_names, d.upgrades)),
        splice=get("splice", v.boolean, d.splice),
        tunnel_idle_timeout=get(
            "tunnel_idle_timeout", v.duration(positive=True), d.tunnel_idle_timeout
        ),
        where=section.where,
    )
    return spec if section.ok else None


def lowered(names: tuple[str, ...]) -> tuple[str, ...]:
    return v.unique([name.lower() for name in names])


def check_prefix(section: Section, prefix: str, route_path: str) -> None:
    """strip_prefix must be the start of every path the route matches: a literal leading
    part of its pattern, ending at a segment boundary."""
    literal = literal_head(route_path)
    trimmed = prefix.rstrip("/") or "/"
    fits = literal.startswith(trimmed) and (
        trimmed == "/" or len(literal) == len(trimmed) or literal[len(trimmed)] == "/"
    )
    if not fits:
        good = literal.rstrip("/")
        hint = f": write e.g. {good!r}" if good else ": the path starts with a parameter"
        section.fail(
            "strip_prefix", f"{prefix!r} is not a prefix of the route's path {route_path!r}{hint}"
        )


def literal_head(route_path: str) -> str:
    """The part of a route pattern before its first parameter ('{...}' or ':name')."""
    cut = len(route_path)
    for mark in ("{", "/:"):
        found = route_path.find(mark)
        if found != -1:
            cut = min(cut, found + (1 if mark == "/:" else 0))
    return route_path[:cut]


def network(value: object) -> Network:
    text = v.string(value)
    try:
        return ipaddress.ip_network(text)
    except ValueError as error:
        if "host bits set" in str(error):
            good = ipaddress.ip_network(text, strict=False)
            raise Invalid(f"{text!r} has host bits set: write {str(good)!r}") from None
        raise Invalid(
            f"{text!r} is not an IP address or network: write e.g. '10.0.0.0/8' or '::1'"
        ) from None


def trusted_proxies(value: object) -> tuple[Network, ...]:
    """[server] trusted_proxies: peers whose X-Forwarded-* and Forwarded headers are kept."""
    if isinstance(value, str):
        return (network(value),)
    return v.unique(v.each(value, network, "a list of networks like ['10.0.0.0/8']"))
