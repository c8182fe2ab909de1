"""docs/config.md against the loader: every key each table of gateway.toml accepts (the
`*_KEYS` tuples the readers check keys with, found in the modules, not listed here) has a
row in its section of the reference, no row names a key the code refuses, each row's
default is what loading the table without the key gives (the default written in the doc is
loaded and compared), and each key is shown in an example that loads."""

from __future__ import annotations

import dataclasses
import importlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gateway.config.compression import COMPRESS_KEYS, policy_for
from gateway.config.load import TOP_KEYS, ConfigLoadError, parse_config
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
from tests.docs.markdown import DOCS, Row, Section, cells, key_rows, key_tables, sections

CONFIG_MD = DOCS / "config.md"
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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with what the templates name: public/, certificate files (the loader only
    checks that they exist) and logs/."""
    folder = tmp_path_factory.mktemp("site")
    (folder / "public").mkdir()
    (folder / "public" / "index.html").write_text("home")
    for name in ("c.pem", "c.key", "ca.pem"):
        (folder / name).write_text("")
    return folder


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


SECTIONS = {section.title: section for section in sections(CONFIG_MD)}


def section_of(table: Table) -> Section:
    found = [s for title, s in SECTIONS.items() if title.split(" ")[0] == table.heading]
    assert found, f"docs/config.md has no section '{table.heading}' for {', '.join(table.keys)}"
    return found[0]


def rows_of(table: Table) -> dict[str, Row]:
    rows = key_rows(section_of(table))
    names = [row.key for row in rows]
    twice = sorted({name for name in names if names.count(name) > 1})
    assert not twice, f"config.md section {table.heading} lists {twice} more than once"
    return {row.key: row for row in rows}


def test_every_key_tuple_of_the_readers_is_documented() -> None:
    """A reader's new `*_KEYS` (a new table) needs a Table here, so it is checked."""
    found = set()
    for name in KEY_MODULES:
        module = importlib.import_module(name)
        found |= {attr for attr in vars(module) if attr.endswith("_KEYS")}
    # Imported names count once, under the name they are defined with.
    missing = found - set(TABLES) - NOT_TABLES
    assert not missing, f"key tuples with no Table in this test: {sorted(missing)}"
    for name, table in TABLES.items():
        if name.endswith("_KEYS"):
            module_values = [getattr(importlib.import_module(m), name, None) for m in KEY_MODULES]
            assert table.keys in module_values, name


def test_every_top_level_table_has_a_section() -> None:
    titles = " ".join(SECTIONS)
    for key in TOP_KEYS:
        assert re.search(rf"\[\[?{key}[\].]", titles), f"no section for the top-level {key!r}"


@pytest.mark.parametrize("name", TABLES)
def test_each_key_has_a_row_and_each_row_a_key(name: str) -> None:
    table = TABLES[name]
    rows = rows_of(table)
    missing = [key for key in table.keys if key not in rows]
    unknown = [key for key in rows if key not in table.keys]
    assert not missing, f"config.md {table.heading}: no row for {missing}"
    assert not unknown, f"config.md {table.heading}: rows for keys the loader refuses: {unknown}"


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


@pytest.mark.parametrize("name", TABLES)
def test_each_default_is_what_the_loader_uses(name: str, site: Path) -> None:
    table = TABLES[name]
    rows = rows_of(table)
    wrong = []
    for key in table.keys:
        if key not in rows:
            continue  # reported by the test above
        cell = default_cell(table, rows[key])
        problem = check_default(table, key, cell, site)
        if problem:
            wrong.append(f"{key} (doc: {cell!r}): {problem}")
    assert not wrong, f"config.md {table.heading} defaults:\n" + "\n".join(wrong)


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


EXAMPLE = re.compile(r"Example: `([^`]+)`")


@pytest.mark.parametrize("name", TABLES)
def test_each_key_has_an_example_that_loads(name: str, site: Path) -> None:
    """Each key shows in a TOML block of its section, or in an `Example:` in its row; the
    row examples are loaded here (the blocks by test_examples.py)."""
    table = TABLES[name]
    section = section_of(table)
    shown = "\n".join(block.text for block in section.blocks if block.lang == "toml")
    rows = rows_of(table)
    missing = []
    for key in table.keys:
        row = rows.get(key)
        examples = EXAMPLE.findall(row.line) if row else []
        if not re.search(rf"(?<![\w.-]){re.escape(key)}\s*=", "\n".join([shown, *examples])):
            missing.append(key)
        # The example replaces the template's value for its key, or for the alternatives.
        drop = (key, *(k for k in table.required if (table.heading, k) in ALTERNATIVES))
        for example in examples:
            try:
                load(table.text(example, drop), site)
            except ConfigLoadError as error:
                pytest.fail(f"config.md {table.heading} {key}: {example!r} does not load: {error}")
    assert not missing, f"config.md {table.heading}: no example shows {missing}"


# Other pages repeat a table's keys in a summary of their own: their defaults must agree too.
# (page, section title, which table of the section, the Table, whether it lists every key)
# Tables of limits.md and handlers.md mix keys, `timeouts.` keys and fixed limits: LOOSE.
LOOSE = [
    ("limits.md", "Reading a request", 0),
    ("limits.md", "Request bodies and memory", 0),
    ("limits.md", "Time", 0),
    ("limits.md", "Capacity", 0),
    ("handlers.md", "Threads: the loop or the pool", 1),
]


@pytest.mark.parametrize("page, title, index", LOOSE)
def test_server_keys_in_other_tables_have_their_defaults(
    page: str, title: str, index: int, site: Path
) -> None:
    found = [s for s in sections(DOCS / page) if s.title == title]
    assert found, f"docs/{page} has no section {title!r}"
    rows = key_tables(found[0], loose=True)[index]
    assert rows, f"docs/{page} {title}: no key rows"
    wrong = []
    for row in rows:
        name, key = (
            ("TIMEOUT_KEYS", row.key[9:])
            if row.key.startswith("timeouts.")
            else (
                "SERVER_KEYS",
                row.key,
            )
        )
        table = TABLES[name]
        if key not in table.keys:
            wrong.append(f"{row.key}: not a [server] key")
            continue
        problem = check_default(table, key, default_cell(table, row), site)
        if problem:
            wrong.append(f"{row.key} (doc: {default_cell(table, row)!r}): {problem}")
    assert not wrong, f"docs/{page} {title}:\n" + "\n".join(wrong)


ELSEWHERE = [
    ("cors.md", "A policy", 0, "CORS_KEYS", True),
    ("deploy.md", "Limits and timeouts", 0, "SERVER_KEYS", False),
    ("deploy.md", "Limits and timeouts", 1, "TIMEOUT_KEYS", True),
    ("proxy.md", "`[upstream.NAME]`", 0, "UPSTREAM_KEYS", True),
    ("proxy.md", "`proxy = { ... }` on a route", 0, "PROXY_KEYS", True),
    ("static.md", "Keys", 0, "STATIC_KEYS", True),
    ("tls.md", "Every key", 0, "TLS_KEYS", True),
]


@pytest.mark.parametrize("page, title, index, name, complete", ELSEWHERE)
def test_other_pages_key_tables_agree(
    page: str, title: str, index: int, name: str, complete: bool, site: Path
) -> None:
    table = TABLES[name]
    found = [s for s in sections(DOCS / page) if s.title == title]
    assert found, f"docs/{page} has no section {title!r}"
    rows = key_tables(found[0])[index]
    keys = [row.key for row in rows]
    assert len(keys) == len(set(keys)), f"docs/{page} {title}: a key listed twice"
    unknown = [key for key in keys if key not in table.keys]
    assert not unknown, f"docs/{page} {title}: rows for keys the loader refuses: {unknown}"
    if complete:
        missing = [key for key in table.keys if key not in keys]
        assert not missing, f"docs/{page} {title}: no row for {missing}"
    wrong = []
    for row in rows:
        cell = default_cell(table, row)
        problem = check_default(table, row.key, cell, site)
        if problem:
            wrong.append(f"{row.key} (doc: {cell!r}): {problem}")
    assert not wrong, f"docs/{page} {title} defaults:\n" + "\n".join(wrong)


# config.md's "Value types": each value a type is "written as" loads in a key of that type,
# as do the others its notes show, except those the notes say "is not" accepted.
PROBES = {
    "string": "[server]\npid_file = {}",
    "integer": "[server]\nworkers = {}",
    "boolean": "[dev]\nreload = {}",
    "list": "[cors.app]\nallow_origins = {}",
    "size": "[server]\nmax_body_bytes = {}",
    "duration": "[dev]\ndebounce = {}",
    "path": "[server]\npid_file = {}",
}


def value_rows() -> list[list[str]]:
    found = [s for s in sections(CONFIG_MD) if s.title == "Value types"]
    assert found, "config.md has no 'Value types' section"
    rows = [cells(line) for line in found[0].lines if line.startswith("|")][2:]
    return [row for row in rows if row[0] in PROBES]


def test_value_types_load_as_shown(site: Path) -> None:
    rows = value_rows()
    assert {row[0] for row in rows} == set(PROBES)
    wrong = []
    for kind, written, notes in rows:
        good = re.findall(r"`([^`]+)`", written)
        refused = re.findall(r"`([^`]+)` is not", notes)
        good += [s for s in re.findall(r"`([^`]+)`", notes) if s not in refused]
        for value in good + refused:
            try:
                tomllib.loads(f"v = {value}")
            except tomllib.TOMLDecodeError:
                continue  # a unit name, a key, not a value
            try:
                load(PROBES[kind].format(value), site)
                loads = True
            except ConfigLoadError:
                loads = False
            if loads != (value not in refused):
                wrong.append(f"{kind} {value}: {'loads' if loads else 'is refused'}")
    assert not wrong, wrong
