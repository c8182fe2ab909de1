"""The parsed form of gateway.toml: frozen *Spec dataclasses with their defaults.
Specs hold plain values only (sizes in bytes, durations in seconds, absolute paths);
each carries a Where so that later stages (compile, import) can point at the source line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args

from gateway.config.where import NOWHERE as NOWHERE
from gateway.config.where import Where as Where

if TYPE_CHECKING:  # proxy/spec.py imports Where from here
    from gateway.proxy.spec import Network, ProxySpec, UpstreamSpec

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TimeoutsSpec:
    header: float = 10.0  # whole request head must arrive within this
    body: float = 30.0  # body must keep arriving: reset on every read
    idle: float = 75.0  # keep-alive connection with nothing in flight
    write: float = 60.0  # a response must keep draining: reset on every send
    handler: float = 30.0  # a pooled handler past this gets 504
    shutdown: float = 10.0  # graceful shutdown waits this long for in-flight work


@dataclass(frozen=True, slots=True)
class CompressSpec:
    """`compress = true | false | { ... }`; None fields: the server's (or the defaults)."""

    enabled: bool = True
    codings: tuple[str, ...] | None = None
    min_size: int | None = None
    types: tuple[str, ...] | None = None
    levels: tuple[tuple[str, int], ...] | None = None


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
    inline_limit: float = 0.01  # a handler call on the loop past this moves it to the pool
    min_body_rate: int = 240  # bytes/s a request body must average after the grace; 0: off
    min_body_rate_grace: float = 5.0  # seconds from the request's first byte
    body_buffer_size: int = 1 * MIB  # a larger request body goes to a temporary file
    body_budget: int = 1024 * MIB  # request-body bytes a worker receives at once; past: 503
    access_log: Literal["off", "common", "combined", "json"] = "common"
    access_log_path: Path | None = None  # access_log = { path = ... }; None: stderr
    cors: str | None = None  # default policy name for every route and mount
    trailing_slash: Literal["redirect", "strict"] = "redirect"
    metrics: str | None = None  # path of the Prometheus metrics; None: off
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    health: str | None = "/__gateway/health"  # liveness; None: off
    ready: str | None = "/__gateway/ready"  # readiness; None: off
    request_id_header: str | None = "x-request-id"  # the client's id, kept and echoed
    error_log_path: Path | None = None  # error_log = { path = ... }; None: stderr
    pid_file: Path | None = None  # where `gateway serve` writes its pid (`gateway reload`)
    trusted_proxies: tuple[Network, ...] = ()  # peers whose X-Forwarded-*/Forwarded are kept
    compress: CompressSpec = CompressSpec()  # handler and respond responses
    startup: tuple[str, ...] = ()  # "module:function" hooks run in each worker before serving
    shutdown: tuple[str, ...] = ()  # ... and after it stopped, in reverse order
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True)
class DevSpec:
    reload: bool = False
    live_reload: bool = False
    debounce: float = 0.05
    watch: Literal["native", "poll"] = "native"
    where: Where = NOWHERE
    # Beyond loopback, the dev endpoints answer these networks and browsers with the key.
    allow: tuple[str, ...] = ()
    key: str | None = None


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

# A [static] mount's dotfile and symlink policies: their allowed values, the one place
# (config reads the keys with them, gateway.static checks a spec built in code against them).
DotfilePolicy = Literal["deny", "allow", "ignore"]
SymlinkPolicy = Literal["inside", "follow", "deny"]
DOTFILES: tuple[DotfilePolicy, ...] = get_args(DotfilePolicy)
SYMLINKS: tuple[SymlinkPolicy, ...] = get_args(SymlinkPolicy)


@dataclass(frozen=True, slots=True)
class StaticSpec:
    prefix: str
    dir: Path
    host: str | None = None
    index: tuple[str, ...] = ("index.html",)
    fallback: str | None = None
    precompressed: tuple[str, ...] = ()
    dotfiles: DotfilePolicy = "deny"
    symlinks: SymlinkPolicy = "inside"
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
class WebSocketOptionsSpec:
    """`websocket_options = { ... }` of a websocket route (gateway.websocket.Settings)."""

    max_message: int = 1 << 20
    ping_interval: float | None = 20.0  # false: no keep-alive pings
    ping_timeout: float = 20.0
    send_buffer: int = 256 * 1024
    receive_buffer: int = 1 << 20
    close_timeout: float = 5.0
    subprotocols: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteSpec:
    path: str
    methods: tuple[str, ...] = ("GET",)
    host: str | None = None
    handler: str | None = None  # "module.path:function", module found under server.root
    inline: bool = False  # always on the loop
    blocking: bool = False  # always on the pool (neither: the loop once it proves fast)
    respond: RespondSpec | None = None
    redirect: RedirectSpec | None = None
    proxy: ProxySpec | None = None
    headers: tuple[tuple[str, str], ...] = ()
    cors: CorsRef = None
    json: bool = False  # errors on this route are always problem+json
    websocket: str | None = None  # "module:function", an async handler taking a WebSocket
    websocket_options: WebSocketOptionsSpec = WebSocketOptionsSpec()
    compress: CompressSpec | None = None  # None: the server's
    max_body_bytes: int | None = None  # None: the server's
    where: Where = NOWHERE

    @property
    def kind(self) -> Literal["handler", "respond", "redirect", "proxy", "websocket"]:
        if self.websocket is not None:
            return "websocket"
        if self.handler is not None:
            return "handler"
        if self.proxy is not None:
            return "proxy"
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
    upstreams: Mapping[str, UpstreamSpec] = field(default_factory=lambda: MappingProxyType({}))
    errors: Mapping[int, Path] = field(default_factory=lambda: MappingProxyType({}))
    errors_where: Where = NOWHERE
    source: str = ""
    env: tuple[EnvUse, ...] = ()  # values set from environment variables (--show-env)
    includes: tuple[Path, ...] = ()  # files merged in by `include`, in order
    include_patterns: tuple[str, ...] = ()  # absolute globs of `include`, to expand again
    # [tls]: a gateway.tls.spec.TlsSpec, or None (not imported: that module imports this one)
    tls: Any = None
