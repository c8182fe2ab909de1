"""Loading whole configs: the DESIGN.md example into the expected specs, defaults, where each
spec sits in the file, and several mistakes at once with the partial config beside them."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gateway.config.load import ConfigLoadError, load_config, parse_config
from gateway.config.schema import (
    NOWHERE,
    CacheRuleSpec,
    CorsSpec,
    DevSpec,
    GatewayConfig,
    RedirectSpec,
    RespondSpec,
    RouteSpec,
    ServerSpec,
    StaticSpec,
    TimeoutsSpec,
)

T = TypeVar("T", bound=Any)

DESIGN_EXAMPLE = """\
[server]
listen = ["127.0.0.1:8000"]        # one or more host:port; "[::1]:8000" for IPv6
workers = 1                        # > 1: prefork, one selectors loop per process, SO_REUSEPORT
root = "sites/demo"                # relative paths below resolve from here
max_header_bytes = 16384           # over it: 431
max_body_bytes = "10MB"            # over it: 413
timeouts = { header = "10s", body = "30s", idle = "75s", write = "60s", handler = "30s", \
shutdown = "10s" }
handler_threads = 16               # pool size; queue full -> 503 with Retry-After
access_log = "combined"            # "off" | "common" | "combined" | "json"

[dev]
reload = true                      # rebuild on changes to gateway.toml and handler modules
live_reload = true                 # browsers showing served HTML reload when served files change

[cors.app]                         # a named policy; routes and mounts name it
allow_origins = ["http://localhost:5173", "https://*.example.com"]
allow_methods = ["GET", "POST", "DELETE"]
allow_headers = ["content-type", "authorization"]
expose_headers = ["x-request-id"]
allow_credentials = true           # with "*" origins: a config error
max_age = "10m"

[[static]]
prefix = "/"
dir = "public"
index = ["index.html"]
fallback = "index.html"            # single-page apps: unknown paths that accept HTML
precompressed = ["br", "gzip"]     # serve foo.js.br / foo.js.gz when accepted
dotfiles = "deny"                  # deny | allow | ignore
symlinks = "inside"                # inside (target must stay under dir) | follow | deny
listing = false
cache = [ { match = "*.html", control = "no-cache" },
          { match = "assets/**", control = "public, max-age=31536000, immutable" } ]

[[route]]
path = "/api/users/{id:int}"       # {name} {name:int} {name:uuid} {rest:path}; ":name" too
methods = ["GET", "DELETE"]        # HEAD follows GET; OPTIONS answered; others 405 + Allow
handler = "api.users:get_user"     # module (found under root) : function
cors = "app"

[[route]]
path = "/api/health"
respond = { status = 200, json = { ok = true } }

[[route]]
path = "/old/{rest:path}"
redirect = { to = "/new/{rest}", status = 308 }

[errors]
404 = "public/404.html"
"""


def make_site(base: Path) -> Path:
    """The folders and files DESIGN_EXAMPLE points at, under `base`."""
    public = base / "sites" / "demo" / "public"
    public.mkdir(parents=True)
    (public / "index.html").write_text("<h1>demo</h1>")
    (public / "404.html").write_text("<h1>not found</h1>")
    (base / "sites" / "demo" / "api").mkdir()
    return base / "sites" / "demo"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = make_site(tmp_path).resolve()
    Path("gateway.toml").write_text(DESIGN_EXAMPLE)
    return root


def test_design_example_loads_into_the_expected_specs(site: Path) -> None:
    config = load_config("gateway.toml")
    assert config.path == (site.parent.parent / "gateway.toml")
    assert config.source == DESIGN_EXAMPLE
    assert drop_where(config.server) == ServerSpec(
        listen=("127.0.0.1:8000",),
        workers=1,
        root=site,
        max_header_bytes=16384,
        max_body_bytes=10_000_000,
        timeouts=TimeoutsSpec(10, 30, 75, 60, 30, 10),
        handler_threads=16,
        access_log="combined",
    )
    assert drop_where(config.dev) == DevSpec(reload=True, live_reload=True)
    assert {name: drop_where(spec) for name, spec in config.cors.items()} == {
        "app": CorsSpec(
            name="app",
            allow_origins=("http://localhost:5173", "https://*.example.com"),
            allow_methods=("GET", "POST", "DELETE"),
            allow_headers=("content-type", "authorization"),
            expose_headers=("x-request-id",),
            allow_credentials=True,
            max_age=600.0,
        )
    }
    assert [drop_where(spec) for spec in config.static] == [
        StaticSpec(
            prefix="/",
            dir=site / "public",
            index=("index.html",),
            fallback="index.html",
            precompressed=("br", "gzip"),
            cache=(
                CacheRuleSpec("*.html", "no-cache"),
                CacheRuleSpec("assets/**", "public, max-age=31536000, immutable"),
            ),
        )
    ]
    assert [drop_where(spec) for spec in config.routes] == [
        RouteSpec(
            path="/api/users/{id:int}",
            methods=("GET", "DELETE"),
            handler="api.users:get_user",
            cors="app",
        ),
        RouteSpec(
            path="/api/health",
            respond=RespondSpec(200, b'{"ok":true}', "application/json"),
        ),
        RouteSpec(path="/old/{rest:path}", redirect=RedirectSpec("/new/{rest}", 308, True)),
    ]
    assert dict(config.errors) == {404: site / "public" / "404.html"}


def drop_where(spec: T) -> T:
    return replace(spec, where=NOWHERE)


def at(start: str) -> int:
    """The 1-based line of the first line of DESIGN_EXAMPLE that starts with `start`."""
    lines = DESIGN_EXAMPLE.splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(start))


def test_each_spec_knows_where_it_sits(site: Path) -> None:
    config = load_config("gateway.toml")
    server = config.server.where
    assert (server.file, server.key, server.line) == ("gateway.toml", "server", 1)
    assert server.key_lines["timeouts"] == at("timeouts")
    keys = ["allow_origins", "allow_methods", "allow_headers", "expose_headers"]
    keys += ["allow_credentials", "max_age"]
    assert dict(config.cors["app"].where.key_lines) == {key: at(key) for key in keys}
    route = config.routes[0].where
    assert (route.key, route.line) == ("route[0]", at("[[route]]"))
    assert route.key_lines["handler"] == at("handler =")
    assert str(route.issue("module 'api.users' not found", "handler")) == (
        f"gateway.toml:{at('handler =')}: route[0].handler: module 'api.users' not found"
    )
    assert config.routes[2].where.key_lines["redirect"] == at("redirect")
    assert (config.static[0].where.key, config.static[0].where.line) == ("static[0]", at("[["))
    assert config.static[0].where.key_lines["cache"] == at("cache")
    assert (config.errors_where.key, config.errors_where.line) == ("errors", at("[errors]"))
    assert config.errors_where.key_lines == {"404": at("404")}


def test_an_empty_file_is_all_defaults(tmp_path: Path) -> None:
    config = parse_config("", tmp_path / "gateway.toml")
    assert drop_where(config.server) == ServerSpec(root=tmp_path.resolve())
    assert drop_where(config.dev) == DevSpec()
    assert (config.routes, config.static, dict(config.cors), dict(config.errors)) == (
        (),
        (),
        {},
        {},
    )
    assert config.server.where.line is None


def test_values_are_normalised(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        server.listen = "[::1]:9000"
        server.max_header_bytes = "8KiB"
        server.timeouts.handler = 2.5
        dev.debounce = "200ms"
        [cors.open]
        allow_origins = "*"
        allow_methods = ["get", "post", "GET"]
        [[route]]
        path = "/hi"
        methods = ["post", "get", "POST"]
        respond = { status = 201, body = "héllo", headers = { x-a = "b" } }
        cors = false
        [[route]]
        path = "/users/:id"
        redirect = { to = "/people/{id}", keep_query = false }
        headers = { "cache-control" = "no-store" }
        cors = "open"
        """
    )
    config = parse_config(text, tmp_path / "gateway.toml")
    assert config.server.listen == ("[::1]:9000",)
    assert config.server.max_header_bytes == 8192
    assert config.server.timeouts == TimeoutsSpec(handler=2.5)
    assert config.dev.debounce == pytest.approx(0.2)
    assert config.cors["open"].allow_origins == ("*",)
    assert config.cors["open"].allow_methods == ("GET", "POST")
    hi, users = config.routes
    assert hi.methods == ("POST", "GET")
    assert hi.respond == RespondSpec(
        201, "héllo".encode(), "text/plain; charset=utf-8", (("x-a", "b"),)
    )
    assert hi.cors is False
    assert users.redirect == RedirectSpec("/people/{id}", 308, keep_query=False)
    assert users.headers == (("cache-control", "no-store"),)
    assert users.cors == "open"
    assert users.kind == "redirect"


def test_respond_json_is_compact_utf8_and_keeps_a_given_content_type(tmp_path: Path) -> None:
    text = (
        "[[route]]\npath = '/a'\n"
        "respond = { json = { name = 'zoë', list = [1, 2.5, true], when = 2024-01-02 } }\n"
        "[[route]]\npath = '/b'\n"
        "respond = { json = [], content_type = 'application/problem+json' }\n"
    )
    text += "[[route]]\npath = '/c'\nrespond = { status = 204 }\n"
    text += "[[route]]\npath = '/d'\nrespond = { status = 204, body = '' }\n"
    a, b, c, d = parse_config(text, tmp_path / "gateway.toml").routes
    assert a.respond == RespondSpec(
        200, '{"name":"zoë","list":[1,2.5,true],"when":"2024-01-02"}'.encode(), "application/json"
    )
    assert b.respond == RespondSpec(200, b"[]", "application/problem+json")
    assert c.respond == RespondSpec(204, b"", None)
    assert d.respond == RespondSpec(204, b"", "text/plain; charset=utf-8")


def test_every_mistake_comes_out_at_once_sorted_by_line(site: Path) -> None:
    Path("gateway.toml").write_text(
        textwrap.dedent(
            """\
            [[route]]
            path = "/b"
            handler = "api.b"
            [server]
            workers = 0
            listne = "x"
            [cors.app]
            max_age = "soon"
            [[route]]
            path = "/ok"
            handler = "api.ok:ok"
            cors = "app"
            [dev]
            reload = "yes"
            """
        )
    )
    with pytest.raises(ConfigLoadError) as caught:
        load_config("gateway.toml")
    assert str(caught.value).splitlines() == [
        "gateway.toml:3: route[0].handler: 'api.b' is not module:function: "
        "write e.g. 'api.users:get_user'",
        "gateway.toml:5: server.workers: must be at least 1, got 0",
        "gateway.toml:6: server.listne: unknown key 'listne' (did you mean 'listen'?)",
        "gateway.toml:8: cors.app.max_age: 'soon' is not a duration: "
        "use a number of seconds or a number with ms, s, m or h",
        "gateway.toml:14: dev.reload: expected true or false, got a string ('yes')",
    ]


def test_the_partial_config_keeps_what_validated(site: Path) -> None:
    Path("gateway.toml").write_text(
        textwrap.dedent(
            """\
            [server]
            root = "sites/demo"
            workers = 0
            handler_threads = 4
            cors = "app"
            [cors.app]
            max_age = "soon"
            [cors.fine]
            allow_origins = ["https://a.example"]
            [[route]]
            path = "/bad"
            handler = "nope"
            [[route]]
            path = "/good"
            handler = "api.good:good"
            cors = "app"
            [[static]]
            prefix = "/"
            dir = "missing"
            [[static]]
            prefix = "/files"
            dir = "public"
            cors = "fine"
            [errors]
            404 = "public/404.html"
            500 = "public/500.html"
            """
        )
    )
    with pytest.raises(ConfigLoadError) as caught:
        load_config("gateway.toml")
    partial = caught.value.partial
    assert isinstance(partial, GatewayConfig)
    # [server] keeps its good keys, a bad key falls back to its default.
    assert (partial.server.root, partial.server.workers) == (site, 1)
    assert partial.server.handler_threads == 4
    # Broken tables are left out; references to a broken policy are turned off, since the
    # policy itself is what was reported.
    assert list(partial.cors) == ["fine"]
    assert partial.server.cors is None
    assert [(route.path, route.cors) for route in partial.routes] == [("/good", False)]
    assert [(mount.prefix, mount.cors) for mount in partial.static] == [("/files", "fine")]
    assert dict(partial.errors) == {404: site / "public" / "404.html"}
    assert partial.routes[0].where.key == "route[1]"
    assert len(caught.value.issues) == 5


def test_a_syntax_error_has_no_partial_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigLoadError) as caught:
        parse_config("[server\n", tmp_path / "gateway.toml")
    assert caught.value.partial is None
    assert len(caught.value.issues) == 1


def test_root_defaults_to_the_config_folder_and_resolves_from_it(tmp_path: Path) -> None:
    (tmp_path / "conf" / "www").mkdir(parents=True)
    config = parse_config("[server]\nroot = 'www'\n", tmp_path / "conf" / "gateway.toml")
    assert config.server.root == (tmp_path / "conf" / "www").resolve()
    config = parse_config("", tmp_path / "conf" / "gateway.toml")
    assert config.server.root == (tmp_path / "conf").resolve()


@pytest.mark.parametrize(
    ("dev", "reload", "live"),
    [
        ("live_reload = true", True, True),  # live reload needs the watching: it turns it on
        ("reload = true", True, False),
        ("reload = true\nlive_reload = false", True, False),
        ("", False, False),
    ],
)
def test_live_reload_turns_reload_on(tmp_path: Path, dev: str, reload: bool, live: bool) -> None:
    config = parse_config(f"[dev]\n{dev}\n", tmp_path / "gateway.toml")
    assert (config.dev.reload, config.dev.live_reload) == (reload, live)
