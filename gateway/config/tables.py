"""The singleton tables of gateway.toml: [server], [dev], [cors.NAME] and [errors].
[server] and [dev] always yield a spec (a bad key falls back to its default, so later checks
still see a usable root); a bad cors policy or errors entry is left out."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Literal

from gateway.config import values as v
from gateway.config.compression import read_compress
from gateway.config.fields import Convert, Invalid, Section, expected
from gateway.config.schema import CorsSpec, DevSpec, ServerSpec, TimeoutsSpec
from gateway.proxy.config import trusted_proxies

SERVER_KEYS = (
    "listen",
    "workers",
    "root",
    "max_header_bytes",
    "max_headers",
    "max_body_bytes",
    "max_connections",
    "timeouts",
    "handler_threads",
    "handler_queue",
    "inline_limit",
    "min_body_rate",
    "min_body_rate_grace",
    "body_buffer_size",
    "body_budget",
    "access_log",
    "cors",
    "trailing_slash",
    "metrics",
    "metrics_allow",
    "health",
    "ready",
    "pid_file",
    "request_id_header",
    "error_log",
    "trusted_proxies",
    "compress",
    "startup",
    "shutdown",
)
TIMEOUT_KEYS = ("header", "body", "idle", "write", "handler", "shutdown")
DEV_KEYS = ("reload", "live_reload", "debounce", "watch", "allow", "key")
CORS_KEYS = (
    "allow_origins",
    "allow_methods",
    "allow_headers",
    "expose_headers",
    "allow_credentials",
    "max_age",
    "allow_private_network",
)

ACCESS_LOGS: tuple[Literal["off", "common", "combined", "json"], ...] = (
    "off",
    "common",
    "combined",
    "json",
)
AccessLogFormat = Literal["off", "common", "combined", "json"]
TRAILING_SLASH: tuple[Literal["redirect", "strict"], ...] = ("redirect", "strict")
WATCH: tuple[Literal["native", "poll"], ...] = ("native", "poll")

_SERVER = ServerSpec()
_TIMEOUTS = TimeoutsSpec()
_DEV = DevSpec()


def read_root(section: Section, config_dir: Path) -> tuple[Path, bool]:
    """server.root resolved against the config's folder, and whether it is a real directory
    (when it is not, paths below it are not checked: one error, not one per path)."""
    if not section.has("root"):
        return config_dir, True
    root = section.get("root", v.directory(config_dir, check=True), None)
    return (config_dir, False) if root is None else (root, True)


def read_server(section: Section, root: Path, cors_names: Collection[str]) -> ServerSpec:
    section.check_keys(SERVER_KEYS)
    s = _SERVER
    get = section.get
    log_format, log_path = get("access_log", access_log(root), (s.access_log, None))
    ops = {key: get(key, v.ops_path, getattr(s, key)) for key in ("metrics", "health", "ready")}
    check_ops_paths(section, ops)
    return ServerSpec(
        listen=get("listen", v.listen, s.listen),
        workers=get("workers", v.integer(1), s.workers),
        root=root,
        max_header_bytes=get("max_header_bytes", v.size(1), s.max_header_bytes),
        max_headers=get("max_headers", v.integer(1), s.max_headers),
        max_body_bytes=get("max_body_bytes", v.size(0), s.max_body_bytes),
        max_connections=get("max_connections", v.integer(1), s.max_connections),
        timeouts=read_timeouts(section.table("timeouts")),
        handler_threads=get("handler_threads", v.integer(1), s.handler_threads),
        handler_queue=get("handler_queue", v.integer(0), s.handler_queue),
        inline_limit=get("inline_limit", v.duration(positive=True), s.inline_limit),
        min_body_rate=get("min_body_rate", v.size(0), s.min_body_rate),
        min_body_rate_grace=get("min_body_rate_grace", v.duration(), s.min_body_rate_grace),
        body_buffer_size=get("body_buffer_size", v.size(0), s.body_buffer_size),
        body_budget=get("body_budget", v.size(1), s.body_budget),
        access_log=log_format,
        access_log_path=log_path,
        cors=get("cors", v.cors_ref(cors_names, allow_false=False), None) or None,
        trailing_slash=get("trailing_slash", v.choice(TRAILING_SLASH), s.trailing_slash),
        metrics=ops["metrics"],
        metrics_allow=get("metrics_allow", v.networks, s.metrics_allow),
        health=ops["health"],
        ready=ops["ready"],
        pid_file=get("pid_file", v.file(root, check=False), None),
        request_id_header=get("request_id_header", header_or_off, s.request_id_header),
        error_log_path=get("error_log", error_log(root), None),
        trusted_proxies=get("trusted_proxies", trusted_proxies, ()),
        compress=read_compress(section) or s.compress,
        startup=get("startup", _hook_refs, ()),
        shutdown=get("shutdown", _hook_refs, ()),
        where=section.where,
    )


def check_ops_paths(section: Section, ops: dict[str, str | None]) -> None:
    """metrics, health and ready are answered before routing: one path each."""
    seen: dict[str, str] = {}
    for key, path in ops.items():
        if path is None:
            continue
        if path in seen:
            section.fail(
                key,
                f"{path!r} is also [server] {seen[path]}: give each endpoint its own path",
            )
        else:
            seen[path] = key


def access_log(root: Path) -> Convert[tuple[AccessLogFormat, Path | None]]:
    """access_log = "json", or a table { format = "json", path = "logs/access.log" }."""
    fmt = v.choice(ACCESS_LOGS)

    def convert(value: object) -> tuple[AccessLogFormat, Path | None]:
        if not isinstance(value, dict):
            return fmt(value), None
        unknown = sorted(set(value) - {"format", "path"})
        if unknown:
            raise Invalid(
                f"unknown key {unknown[0]!r} in access_log: write {{ format = 'json', "
                "path = 'logs/access.log' }"
            )
        path = v.file(root, check=False)(value["path"]) if "path" in value else None
        return fmt(value.get("format", "common")), path

    return convert


def header_or_off(value: object) -> str | None:
    """request_id_header: a header name, or false to ignore the client's ids."""
    return None if value is False else v.header_name(value).lower()


def error_log(root: Path) -> Convert[Path]:
    """error_log = { path = "logs/error.log" }."""

    def convert(value: object) -> Path:
        write = "write error_log = { path = 'logs/error.log' }"
        if not isinstance(value, dict):
            raise Invalid(f"{expected('a table', value).problems[0][1]}: {write}")
        unknown = sorted(set(value) - {"path"})
        if unknown:
            raise Invalid(f"unknown key {unknown[0]!r} in error_log: {write}")
        if "path" not in value:
            raise Invalid(f"missing required key 'path': {write}")
        return v.file(root, check=False)(value["path"])

    return convert


def _hook_refs(value: object) -> tuple[str, ...]:
    from gateway.config.routes import handler_ref

    return tuple(v.each(value, handler_ref, "a list of 'module:function' strings"))


def read_timeouts(section: Section | None) -> TimeoutsSpec:
    if section is None:
        return _TIMEOUTS
    section.check_keys(TIMEOUT_KEYS)
    found = {key: section.get(key, v.duration(positive=True), None) for key in TIMEOUT_KEYS}
    return TimeoutsSpec(**{key: value for key, value in found.items() if value is not None})


def read_dev(section: Section) -> DevSpec:
    """[dev]. live_reload needs the watching that reload does, so it turns reload on when
    reload is not set; `reload = false` beside it is a contradiction and an error."""
    section.check_keys(DEV_KEYS)
    live = section.get("live_reload", v.boolean, _DEV.live_reload)
    reload = section.get("reload", v.boolean, None)
    if live and reload is False:
        section.fail(
            "live_reload",
            "live_reload = true needs reload, but reload = false: "
            "drop 'reload = false' (live_reload turns it on) or set live_reload = false",
        )
    return DevSpec(
        reload=live if reload is None else reload,
        live_reload=live,
        debounce=section.get("debounce", v.duration(), _DEV.debounce),
        watch=section.get("watch", v.choice(WATCH), _DEV.watch),
        where=section.where,
        allow=section.get("allow", v.networks, _DEV.allow),
        key=section.get("key", _dev_key, None),
    )


MIN_KEY = 16  # characters: a [dev] key is a password, not a flag


def _dev_key(value: object) -> str:
    """[dev] key: a secret the browser presents; long enough to be one."""
    text = v.string(value)
    if len(text) < MIN_KEY or not all(c.isalnum() or c in "-_.~" for c in text):
        raise Invalid(
            f"a key of {len(text)} characters is too easy to guess or not URL-safe: use at "
            f'least {MIN_KEY} letters, digits or -_.~ (e.g. key = "${{GATEWAY_DEV_KEY}}")'
        )
    return text


def read_cors(section: Section) -> tuple[list[str], dict[str, CorsSpec]]:
    """Every policy name declared (so references to a broken policy are not reported twice)
    and the policies that read cleanly."""
    policies = {}
    for name, value in section.named("cors", "a cors policy", CORS_KEYS):
        policy = read_policy(Section(section.issues, (*section.path, name), value), name)
        if policy is not None:
            policies[name] = policy
    return list(section.data), policies


def read_policy(section: Section, name: str) -> CorsSpec | None:
    section.check_keys(CORS_KEYS)
    default = CorsSpec(name)
    get = section.get
    policy = CorsSpec(
        name=name,
        allow_origins=get("allow_origins", v.wildcard_or(v.strings), default.allow_origins),
        allow_methods=get("allow_methods", v.wildcard_or(cors_methods), default.allow_methods),
        allow_headers=get("allow_headers", v.wildcard_or(v.header_names), default.allow_headers),
        expose_headers=get("expose_headers", v.wildcard_or(v.header_names), default.expose_headers),
        allow_credentials=get("allow_credentials", v.boolean, default.allow_credentials),
        max_age=get("max_age", v.duration(), default.max_age),
        allow_private_network=get(
            "allow_private_network", v.boolean, default.allow_private_network
        ),
        where=section.where,
    )
    return policy if section.ok else None


def cors_methods(value: object) -> tuple[str, ...]:
    return v.unique(v.each(value, v.method))


def read_errors(section: Section, root: Path, check: bool) -> dict[int, Path]:
    """[errors]: status code (as a key, "404") -> page file under root."""
    pages = {}
    for key in section.data:
        if not (key.isascii() and key.isdigit() and 400 <= int(key) <= 599):
            section.fail(key, f"{key!r} is not an error status: use a code from 400 to 599")
            continue
        page = section.get(key, v.file(root, check), None)
        if page is not None:
            pages[int(key)] = page
    return pages
