"""The tables of gateway.toml as the docs tests see them: for each, its heading in the docs,
the keys the loader accepts (its `*_KEYS` tuple), a config around it to load one key in, and
what it becomes; and `check_default`, which loads a default written in a doc and compares it
with what leaving the key out gives."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config.compression import COMPRESS_KEYS, policy_for
from gateway.config.load import ConfigLoadError, parse_config
from gateway.config.routes import (
    CACHE_KEYS,
    REDIRECT_KEYS,
    RESPOND_KEYS,
    ROUTE_KEYS,
    STATIC_KEYS,
    WEBSOCKET_KEYS,
)
from gateway.config.schema import GatewayConfig, Where
from gateway.config.tables import CORS_KEYS, DEV_KEYS, SERVER_KEYS, TIMEOUT_KEYS
from gateway.proxy.config import HEALTH_KEYS, KEEPALIVE_KEYS, PROXY_KEYS, UPSTREAM_KEYS
from gateway.tls.config import ACME_KEYS, CERT_KEYS, HSTS_KEYS, LOCAL_KEYS, TLS_KEYS
from gateway.tls.files import data_home
from tests.docs.markdown import Row

# Where the readers keep their key tuples: a new `*_KEYS` here must get a Table below.
KEY_MODULES = (
    "gateway.config.load",
    "gateway.config.tables",
    "gateway.config.routes",
    "gateway.config.compression",
    "gateway.proxy.config",
    "gateway.tls.config",
)
# Key tuples that are not a table of their own: TOP_KEYS is checked by
# test_every_top_level_table_has_a_section.
NOT_TABLES = {"TOP_KEYS"}

Extract = Callable[[GatewayConfig], Any]


@dataclass
class Table:
    """One table of gateway.toml: its heading in config.md, the keys the code accepts, a
    config around it (`{kv}` is where one key goes; `required` holds the keys the table
    cannot load without, with a value) and the part of the loaded config it becomes."""

    heading: str
    keys: tuple[str, ...]
    template: str
    extract: Extract
    required: dict[str, str] = field(default_factory=dict)

    def text(self, kv: str = "", drop: tuple[str, ...] = ()) -> str:
        lines = [f"{k} = {v}" for k, v in self.required.items() if k not in drop]
        return self.template.replace("{kv}", "\n".join([*lines, kv]))


def route(config: GatewayConfig) -> Any:
    return config.routes[0]


def tls(config: GatewayConfig) -> Any:
    return config.tls


CERTS = '[{ cert = "c.pem", key = "c.key" }]'
TLS_HEAD = f"[tls]\ncertificates = {CERTS}\n"
UPSTREAM_HEAD = '[upstream.api]\nservers = ["https://127.0.0.1:9001"]\n'
ROUTE_HEAD = '[[route]]\npath = "/x"\n'

TABLES: dict[str, Table] = {
    "SERVER_KEYS": Table("[server]", SERVER_KEYS, "[server]\n{kv}", lambda c: c.server),
    "TIMEOUT_KEYS": Table(
        "server.timeouts", TIMEOUT_KEYS, "[server.timeouts]\n{kv}", lambda c: c.server.timeouts
    ),
    # access_log's and error_log's tables are read by converters, without a tuple.
    "ACCESS_LOG": Table(
        "server.access_log", ("format", "path"), "[server.access_log]\n{kv}", lambda c: c.server
    ),
    "ERROR_LOG": Table(
        "server.error_log",
        ("path",),
        "[server.error_log]\n{kv}",
        lambda c: c.server.error_log_path,
        {"path": '"logs/error.log"'},
    ),
    "COMPRESS_KEYS": Table(
        "compress",
        COMPRESS_KEYS,
        "[server.compress]\n{kv}",
        lambda c: policy_for(c.server.compress),
    ),
    "DEV_KEYS": Table("[dev]", DEV_KEYS, "[dev]\n{kv}", lambda c: c.dev),
    "CORS_KEYS": Table("[cors.NAME]", CORS_KEYS, "[cors.app]\n{kv}", lambda c: c.cors["app"]),
    "STATIC_KEYS": Table(
        "[[static]]",
        STATIC_KEYS,
        "[[static]]\n{kv}",
        lambda c: c.static[0],
        {"prefix": '"/"', "dir": '"public"'},
    ),
    "CACHE_KEYS": Table(
        "static.cache",
        CACHE_KEYS,
        '[[static]]\nprefix = "/"\ndir = "public"\n[[static.cache]]\n{kv}',
        lambda c: c.static[0].cache,
        {"match": '"*.html"', "control": '"no-cache"'},
    ),
    "ROUTE_KEYS": Table(
        "[[route]]",
        ROUTE_KEYS,
        '[[route]]\n{kv}\nrespond = { body = "x" }',
        route,
        {"path": '"/x"'},
    ),
    "WEBSOCKET_KEYS": Table(
        "route.websocket_options",
        WEBSOCKET_KEYS,
        ROUTE_HEAD + 'websocket = "api.chat:room"\n[route.websocket_options]\n{kv}',
        lambda c: c.routes[0].websocket_options,
    ),
    "RESPOND_KEYS": Table(
        "route.respond",
        RESPOND_KEYS,
        ROUTE_HEAD + "[route.respond]\n{kv}",
        lambda c: route(c).respond,
    ),
    "REDIRECT_KEYS": Table(
        "route.redirect",
        REDIRECT_KEYS,
        ROUTE_HEAD + "[route.redirect]\n{kv}",
        lambda c: route(c).redirect,
        {"to": '"/y"'},
    ),
    "PROXY_KEYS": Table(
        "route.proxy",
        PROXY_KEYS,
        ROUTE_HEAD + 'methods = ["*"]\n[route.proxy]\n{kv}',
        lambda c: route(c).proxy,
        {"url": '"http://127.0.0.1:9001"'},
    ),
    "UPSTREAM_KEYS": Table(
        "[upstream.NAME]",
        UPSTREAM_KEYS,
        "[upstream.api]\n{kv}",
        lambda c: c.upstreams["api"],
        {"servers": '["https://127.0.0.1:9001"]'},
    ),
    "HEALTH_KEYS": Table(
        "upstream.health",
        HEALTH_KEYS,
        UPSTREAM_HEAD + "[upstream.api.health]\n{kv}",
        lambda c: c.upstreams["api"].health,
    ),
    "KEEPALIVE_KEYS": Table(
        "upstream.keepalive",
        KEEPALIVE_KEYS,
        UPSTREAM_HEAD + "[upstream.api.keepalive]\n{kv}",
        lambda c: c.upstreams["api"].keepalive,
    ),
    "TLS_KEYS": Table("[tls]", TLS_KEYS, "[tls]\n{kv}", tls, {"certificates": CERTS}),
    "CERT_KEYS": Table(
        "tls.certificates",
        CERT_KEYS,
        "[[tls.certificates]]\n{kv}",
        lambda c: tls(c).certificates,
        {"cert": '"c.pem"', "key": '"c.key"'},
    ),
    "ACME_KEYS": Table(
        "tls.acme",
        ACME_KEYS,
        "[tls.acme]\n{kv}",
        lambda c: tls(c).acme,
        {"domains": '["example.com"]'},
    ),
    "LOCAL_KEYS": Table("tls.local", LOCAL_KEYS, "[tls.local]\n{kv}", lambda c: tls(c).local),
    "HSTS_KEYS": Table("tls.hsts", HSTS_KEYS, TLS_HEAD + "[tls.hsts]\n{kv}", lambda c: tls(c).hsts),
    "INCLUDE": Table("include", ("include",), "{kv}", lambda c: c.includes),
}

# A default cell in words (no TOML value to load) means "nothing": the key's field is
# None, empty or false when the key is left out. Any other wording is listed here with
# what leaving the key out must give.
NOTHING = ("none", "unset", "any", "stderr", "off", "")
SPOKEN: dict[tuple[str, str], tuple[str, Callable[[Any, Path], object]]] = {
    ("[server]", "root"): ("the config file's folder", lambda s, site: s.root == site.resolve()),
    ("[server]", "timeouts"): ("see", lambda s, site: s.timeouts == type(s.timeouts)()),
    ("[[static]]", "cors"): ("`[server] cors`", lambda s, site: s.cors is None),
    ("[[route]]", "cors"): ("`[server] cors`", lambda s, site: s.cors is None),
    ("[[route]]", "compress"): ("`[server] compress`", lambda s, site: s.compress is None),
    ("[[route]]", "max_body_bytes"): (
        "`[server] max_body_bytes`",
        lambda s, site: s.max_body_bytes is None,
    ),
    ("[[route]]", "websocket_options"): (
        "see",
        lambda s, site: s.websocket_options == type(s.websocket_options)(),
    ),
    ("route.respond", "content_type"): ("see", lambda s, site: s.content_type is None),
    ("route.proxy", "timeout"): (
        "the upstream's `read_timeout`",
        lambda s, site: s.timeout is None,
    ),
    ("route.proxy", "host"): ("the client's `Host`", lambda s, site: s.host is None),
    ("[upstream.NAME]", "ca"): ("the system's trust store", lambda s, site: s.ca is None),
    ("[upstream.NAME]", "health"): ("none", lambda s, site: s.health is None),
    ("[tls]", "https_port"): (
        "the lowest `[tls] listen` port",
        lambda s, site: s.https_port is None,
    ),
    ("tls.acme", "storage"): (
        "`~/.local/share/gateway/acme`",
        lambda s, site: s.storage == data_home() / "acme",
    ),
    ("tls.local", "ca_dir"): ("`~/.local/share/gateway/ca`", lambda s, site: s.ca_dir is None),
    ("compress", "types"): ("text/", lambda s, site: "text/*" in s.types),
}
# Fields whose names differ from their key, for the "nothing" check.
FIELDS = {
    ("[server]", "error_log"): "error_log_path",
    ("server.access_log", "path"): "access_log_path",
}
# Keys that are one of several ways to say one thing (a route's target, where [tls] gets its
# certificates): their default cell is empty, and the template sets one of the others.
ALTERNATIVES = {
    *(("[[route]]", key) for key in ("handler", "respond", "redirect", "proxy", "websocket")),
    ("route.proxy", "upstream"),
    ("route.proxy", "url"),
    ("route.respond", "json"),
    *(("[tls]", key) for key in ("certificates", "acme", "local")),
}


def load(text: str, site: Path) -> GatewayConfig:
    return parse_config(text, site / "gateway.toml", environ={})


def plain(value: object) -> object:
    """`value` without its Where fields (lines differ between two loads)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(
            (f.name, plain(getattr(value, f.name)))
            for f in dataclasses.fields(value)
            if f.type not in ("Where", Where)
        )
    if isinstance(value, tuple | list):
        return tuple(plain(item) for item in value)
    if hasattr(value, "items"):
        return tuple((k, plain(v)) for k, v in value.items())
    return value


def default_cell(table: Table, row: Row) -> str:
    cell = row.columns.get("default")
    assert cell is not None, f"config.md {table.heading}: its table has no 'default' column"
    return cell


def literal(cell: str) -> str | None:
    """The cell's first backticked text when it is a TOML value, else None."""
    span = re.search(r"`([^`]+)`", cell)
    if span is None or cell.lower().startswith(("the ", "see ")):
        return None
    try:
        tomllib.loads(f"v = {span.group(1)}")
    except tomllib.TOMLDecodeError:
        return None
    return span.group(1)


def check_default(table: Table, key: str, cell: str, site: Path) -> str | None:
    if (table.heading, key) in ALTERNATIVES:
        return None if cell in ("", "none", "—") else "one of several: leave its default empty"
    if cell.lower().strip("()").startswith("required"):
        if key not in table.required:
            return "the loader does not require it"
        try:
            load(table.text(drop=(key,)), site)
        except ConfigLoadError:
            return None
        return "the table loads without it"
    if key in table.required:
        return "the loader requires it: write 'required'"
    without = table.extract(load(table.text(), site))
    value = literal(cell)
    if value is not None:
        try:
            given = table.extract(load(table.text(f"{key} = {value}"), site))
        except ConfigLoadError as error:
            return f"{key} = {value} does not load: {error}"
        if plain(given) != plain(without):
            return f"{key} = {value} is not what leaving it out gives"
        return None
    spoken = SPOKEN.get((table.heading, key))
    if spoken is not None:
        words, holds = spoken
        if words not in cell:
            return f"expected the words {words!r}"
        return None if holds(without, site) else "leaving it out gives something else"
    if not cell.lower().startswith(NOTHING):
        return "not a TOML value, and not a word this test knows: add it to SPOKEN"
    value_now = getattr(without, FIELDS.get((table.heading, key), key))
    return None if not value_now else f"leaving it out gives {value_now!r}"
