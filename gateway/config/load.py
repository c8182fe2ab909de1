"""gateway.toml -> GatewayConfig: tomllib reads the text, the table readers check it, and every
mistake comes out in one ConfigLoadError sorted by line. The error carries `partial`, the
config built from what did validate, so later stages (handler imports, route conflicts) can
still look for more mistakes in the same run."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from gateway.config.env import interpolate, port_override
from gateway.config.fields import Issues, Section
from gateway.config.include import merge_includes
from gateway.config.locate import locate
from gateway.config.routes import ROUTE_KEYS, STATIC_KEYS, read_route, read_static
from gateway.config.schema import CorsRef, EnvUse, GatewayConfig, ServerSpec
from gateway.config.source import decode, not_utf8
from gateway.config.source import display_name as display_name  # re-exported: it lived here
from gateway.config.source import syntax_issue as syntax_issue
from gateway.config.tables import (
    DEV_KEYS,
    SERVER_KEYS,
    read_cors,
    read_dev,
    read_errors,
    read_root,
    read_server,
)
from gateway.errors import ConfigError, ConfigIssue
from gateway.proxy.config import UPSTREAM_KEYS, read_upstreams
from gateway.tls.config import read_tls

TOP_KEYS = ("server", "dev", "cors", "upstream", "static", "route", "errors", "tls")

# Keys written above the first header land at the top level; say where they belong.
HOMES = {
    key: " or ".join(
        table
        for table, keys in (
            ("[server]", SERVER_KEYS),
            ("[dev]", DEV_KEYS),
            ("[[route]]", ROUTE_KEYS),
            ("[[static]]", STATIC_KEYS),
            ("[upstream.NAME]", UPSTREAM_KEYS),
        )
        if key in keys
    )
    for key in {*SERVER_KEYS, *DEV_KEYS, *ROUTE_KEYS, *STATIC_KEYS, *UPSTREAM_KEYS}
}


class ConfigLoadError(ConfigError):
    """A ConfigError from reading gateway.toml. `partial` is the config without the tables
    that had problems (None when the file is not even TOML)."""

    def __init__(self, issues: Iterable[ConfigIssue], partial: GatewayConfig | None) -> None:
        super().__init__(issues)
        self.partial = partial


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and validate the config file at `path` (and the files it includes), with
    `${VAR}` references and PORT taken from `environ` (default: os.environ). Raises
    ConfigLoadError (a ConfigError) listing every mistake, and FileNotFoundError / OSError
    when the file itself cannot be read."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text = decode(data)
    except UnicodeDecodeError as error:
        line, message = not_utf8(data, error)
        raise ConfigLoadError([ConfigIssue(display_name(path), line, "", message)], None) from None
    return parse_config(text, path, environ)


def parse_config(text: str, path: Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Validate config `text` as if read from `path` (relative paths resolve from its folder)."""
    path = Path(path)
    environ = os.environ if environ is None else environ
    file = display_name(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigLoadError([syntax_issue(file, text, error)], None) from None
    issues = Issues(file, locate(text))
    included = merge_includes(data, path, issues)
    uses = interpolate(data, issues, environ)
    config, broken = read_config(data, issues, path.resolve(), text)
    written = config.server.listen
    config = replace(
        config,
        server=with_port(config.server, issues, environ, uses),
        env=tuple(uses),
        includes=tuple(included.files),
        include_patterns=tuple(included.patterns),
    )
    if config.server.listen != written:
        check_port_against_tls(config, issues)
    if issues.items:
        raise ConfigLoadError(issues.sorted(), without_broken(config, broken))
    return config


def with_port(
    server: ServerSpec, issues: Issues, environ: Mapping[str, str], uses: list[EnvUse]
) -> ServerSpec:
    """[server] listen with each port replaced by $PORT, when PORT is set."""
    listen, problem = port_override(server.listen, environ)
    path = ("server", "listen")
    if problem is not None:
        issues.add(path, problem)
    if listen == server.listen:
        return server
    file, line, key = issues.place(path)
    # One line for the whole list: what its entries took from ${...}, then $PORT.
    earlier = [use for use in uses if use.key == key or use.key.startswith(key + "[")]
    sources = [source for use in earlier for source in use.sources]
    uses[:] = [use for use in uses if use not in earlier]
    uses.append(EnvUse(file, line, key, listen, (*dict.fromkeys(sources), "$PORT"), False))
    return replace(server, listen=listen)


def check_port_against_tls(config: GatewayConfig, issues: Issues) -> None:
    """[tls] was read against [server] listen as written; an address PORT moved onto a
    [tls] listen address is the same mistake, so it gets the same error."""
    if config.tls is None:
        return
    for address in config.server.listen:
        if address in config.tls.listen:
            issues.add(
                ("server", "listen"),
                f"{address!r} (its port from $PORT) is also in [tls] listen: an address speaks"
                " either http or https; set PORT to another port",
            )


@dataclass(frozen=True)
class Broken:
    """The [cors.NAME] policies and [upstream.NAME] tables that were declared but did not
    read cleanly (already reported): what names them is left alone in the partial config."""

    policies: frozenset[str] = frozenset()
    upstreams: frozenset[str] = frozenset()


def read_config(
    data: dict[str, object], issues: Issues, path: Path, text: str
) -> tuple[GatewayConfig, Broken]:
    """The config from what read cleanly, and the named tables that did not."""
    top = Section(issues, (), data)
    top.check_keys(TOP_KEYS, homes=HOMES)
    names, policies = read_cors(table(top, "cors"))
    server_section = table(top, "server")
    root, root_ok = read_root(server_section, path.parent)
    server = read_server(server_section, root, names)
    statics = [
        read_static(entry, root, root_ok, names) for entry in top.tables("static", " ([[static]])")
    ]
    upstream_names, upstreams = read_upstreams(table(top, "upstream"))
    routes = [read_route(entry, names, upstream_names) for entry in top.tables("route")]
    errors_section = table(top, "errors")
    config = GatewayConfig(
        path=path,
        server=server,
        dev=read_dev(table(top, "dev")),
        cors=MappingProxyType(policies),
        static=tuple(spec for spec in statics if spec is not None),
        routes=tuple(spec for spec in routes if spec is not None),
        upstreams=MappingProxyType(upstreams),
        errors=MappingProxyType(read_errors(errors_section, root, root_ok)),
        errors_where=errors_section.where,
        source=text,
        tls=read_tls(top.table("tls"), root, server.listen),
    )
    broken = Broken(frozenset(names) - set(policies), frozenset(upstream_names) - set(upstreams))
    return config, broken


def table(top: Section, key: str) -> Section:
    """The top-level table `key`, or an empty one when it is absent or not a table."""
    return top.table(key) or Section(top.issues, (key,), {}, parent=top)


def without_broken(config: GatewayConfig, broken: Broken) -> GatewayConfig:
    """The partial config with references to broken cors policies turned off, and the
    routes that proxy to a broken upstream left out, so that compiling it neither reports
    again what was reported nor trips over a name that is not there (a KeyError)."""
    if not broken.policies and not broken.upstreams:
        return config

    def fix(ref: CorsRef) -> CorsRef:
        return False if ref in broken.policies else ref

    server_cors = None if config.server.cors in broken.policies else config.server.cors
    routes = [
        route
        for route in config.routes
        if route.proxy is None or route.proxy.upstream not in broken.upstreams
    ]
    return replace(
        config,
        server=replace(config.server, cors=server_cors),
        routes=tuple(replace(route, cors=fix(route.cors)) for route in routes),
        static=tuple(replace(mount, cors=fix(mount.cors)) for mount in config.static),
    )
