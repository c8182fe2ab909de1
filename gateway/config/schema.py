"""The parsed form of gateway.toml: frozen *Spec dataclasses with their defaults.
Specs hold plain values only (sizes in bytes, durations in seconds, absolute paths);
each carries a Where so that later stages (compile, import) can point at the source line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from gateway.errors import ConfigIssue

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Where:
    """Where a table sits in its file: `key` is its dotted name ("route[3]", "server"),
    `line` the line of its header, `key_lines` the line of each key set inside it."""

    file: str = "<defaults>"
    key: str = ""
    line: int | None = None
    key_lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def issue(self, message: str, key: str | None = None) -> ConfigIssue:
        """A ConfigIssue at this table, or at one of its keys (dotted below it)."""
        if key is None:
            return ConfigIssue(self.file, self.line, self.key, message)
        top = key.split(".", 1)[0].split("[", 1)[0]
        line = self.key_lines.get(top, self.line)
        return ConfigIssue(self.file, line, f"{self.key}.{key}" if self.key else key, message)


NOWHERE = Where()


@dataclass(frozen=True, slots=True)
class TimeoutsSpec:
    header: float = 10.0  # whole request head must arrive within this
    body: float = 30.0  # body must keep arriving: reset on every read
    idle: float = 75.0  # keep-alive connection with nothing in flight
    write: float = 60.0  # a response must keep draining: reset on every send
    handler: float = 30.0  # a pooled handler past this gets 504
    shutdown: float = 10.0  # graceful shutdown waits this long for in-flight work


@dataclass(frozen=True, slots=True)
class ServerSpec:
    listen: tuple[str, ...] = ("127.0.0.1:8000",)
    workers: int = 1
    root: Path = Path(".")
    max_header_bytes: int = 16384
    max_headers: int = 100
    max_body_bytes: int = 10 * MIB
    max_connections: int = 10000
    timeouts: TimeoutsSpec = TimeoutsSpec()
    handler_threads: int = 16
    handler_queue: int = 256  # requests waiting for a pool thread; past it -> 503
    access_log: Literal["off", "common", "combined", "json"] = "common"
    cors: str | None = None  # default policy name for every route and mount
    trailing_slash: Literal["redirect", "strict"] = "redirect"
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True)
class DevSpec:
    reload: bool = False
    live_reload: bool = False
    debounce: float = 0.05
    watch: Literal["native", "poll"] = "native"
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True)
class CorsSpec:
    name: str
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ("GET", "HEAD", "POST")
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: float | None = None
    allow_private_network: bool = False
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True)
class CacheRuleSpec:
    match: str  # glob over the path relative to the mount's dir; "**" crosses folders
    control: str  # the Cache-Control value


# cors on a route or mount: None = inherit [server] cors; False = off; str = a policy name.
CorsRef = str | Literal[False] | None


@dataclass(frozen=True, slots=True)
class StaticSpec:
    prefix: str
    dir: Path
    host: str | None = None
    index: tuple[str, ...] = ("index.html",)
    fallback: str | None = None
    precompressed: tuple[str, ...] = ()
    dotfiles: Literal["deny", "allow", "ignore"] = "deny"
    symlinks: Literal["inside", "follow", "deny"] = "inside"
    listing: bool = False
    cache: tuple[CacheRuleSpec, ...] = ()
    mime: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    headers: tuple[tuple[str, str], ...] = ()
    cors: CorsRef = None
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True)
class RespondSpec:
    status: int = 200
    body: bytes = b""
    content_type: str | None = None  # defaults: text/plain for body, application/json for json
    headers: tuple[tuple[str, str], ...] = ()  # added to the response, in file order


@dataclass(frozen=True, slots=True)
class RedirectSpec:
    to: str  # may name the route's params: "/new/{rest}"
    status: int = 308
    keep_query: bool = True


@dataclass(frozen=True, slots=True)
class RouteSpec:
    path: str
    methods: tuple[str, ...] = ("GET",)
    host: str | None = None
    handler: str | None = None  # "module.path:function", module found under server.root
    inline: bool = False
    respond: RespondSpec | None = None
    redirect: RedirectSpec | None = None
    headers: tuple[tuple[str, str], ...] = ()
    cors: CorsRef = None
    where: Where = NOWHERE

    @property
    def kind(self) -> Literal["handler", "respond", "redirect"]:
        if self.handler is not None:
            return "handler"
        return "respond" if self.respond is not None else "redirect"


@dataclass(frozen=True, slots=True)
class EnvUse:
    """One config value that came from the environment (`gateway check --show-env`)."""

    file: str
    line: int | None
    key: str  # dotted, as errors show it: "route[0].headers.x-api-key"
    value: object  # what the config holds now
    sources: tuple[str, ...]  # "${API_KEY}", "${ROOT:-site} (default)", "$PORT"
    secret: bool  # masked when shown


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """A whole gateway.toml. `path` is the config file; `source` its text (for hashing)."""

    path: Path
    server: ServerSpec = ServerSpec()
    dev: DevSpec = DevSpec()
    cors: Mapping[str, CorsSpec] = field(default_factory=lambda: MappingProxyType({}))
    static: tuple[StaticSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    errors: Mapping[int, Path] = field(default_factory=lambda: MappingProxyType({}))
    errors_where: Where = NOWHERE
    source: str = ""
    env: tuple[EnvUse, ...] = ()  # values set from environment variables (--show-env)
    includes: tuple[Path, ...] = ()  # files merged in by `include`, in order
    include_patterns: tuple[str, ...] = ()  # absolute globs of `include`, to expand again
