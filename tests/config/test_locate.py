"""The locator: key paths to lines on sources written to trip it up."""

from __future__ import annotations

import tomllib

from gateway.config.locate import format_key, locate

TRICKY = '''\
# [server] in a comment, listen = "no"
dev.watch = "a#b[c]=d"   # a string holding # [ ] and =
[server]
workers = 2
timeouts = { header = "10s", body = "30s" }
'tricky.key' = """multi
[route]
line = "x" \\""""" # a multi-line string holding a header
"quo\\"ted" = 'lit#'
  [ cors . "app" ]
allow_origins = [
  "http://a", # a comment with ]
  'http://b',
]
[[route]]
path = "/a"
respond = { status = 200, json = { ok = true } }
[[route]]
path = "/b"
[route.redirect]
to = "/x"
[[static]]
cache = [ { match = "*.html", control = "no-cache" },
          { match = "assets/**", control = "public" } ]
[errors]
404 = "x"
"500" = \'\'\'y\'\'\'\'\'
'''


def test_tricky_source_is_valid_toml() -> None:
    data = tomllib.loads(TRICKY)
    assert data["server"]["tricky.key"] == 'multi\n[route]\nline = "x" ""'
    assert data["errors"]["500"] == "y''"


def test_locates_headers_keys_inline_tables_and_arrays() -> None:
    loc = locate(TRICKY)
    expected = {
        ("dev",): 2,
        ("dev", "watch"): 2,
        ("server",): 3,
        ("server", "workers"): 4,
        ("server", "timeouts"): 5,
        ("server", "timeouts", "body"): 5,
        ("server", "tricky.key"): 6,
        ("server", 'quo"ted'): 9,
        ("cors", "app"): 10,
        ("cors", "app", "allow_origins"): 11,
        ("cors", "app", "allow_origins", 1): 13,
        ("route",): 15,
        ("route", 0): 15,
        ("route", 0, "path"): 16,
        ("route", 0, "respond", "json", "ok"): 17,
        ("route", 1): 18,
        ("route", 1, "path"): 19,
        ("route", 1, "redirect"): 20,
        ("route", 1, "redirect", "to"): 21,
        ("static", 0): 22,
        ("static", 0, "cache", 0, "match"): 23,
        ("static", 0, "cache", 1, "control"): 24,
        ("errors",): 25,
        ("errors", "404"): 26,
        ("errors", "500"): 27,
    }
    assert {path: loc.exact(path) for path in expected} == expected


def test_line_falls_back_to_the_nearest_ancestor() -> None:
    loc = locate(TRICKY)
    assert loc.line(("route", 1, "redirect", "status")) == 20
    assert loc.line(("route", 0, "methods", 3)) == 15
    assert loc.line(("nowhere",)) is None
    assert loc.exact(("route", 1, "redirect", "status")) is None


def test_key_lines_are_the_direct_keys_of_a_table() -> None:
    loc = locate(TRICKY)
    assert loc.key_lines(("server",)) == {
        "workers": 4,
        "timeouts": 5,
        "tricky.key": 6,
        'quo"ted': 9,
    }
    assert loc.key_lines(("route", 1)) == {"path": 19, "redirect": 20}
    assert loc.key_lines(("static", 0, "cache", 1)) == {"match": 24, "control": 24}


def test_dotted_keys_and_sub_tables_of_array_entries() -> None:
    source = (
        "server.listen = '127.0.0.1:1'\n"
        "server.timeouts.header = '1s'\n"
        "[[route]]\n"
        "[[route]]\n"
        "respond.status = 200\n"
        "[route.headers]\n"
        "x-a = 'b'\n"
        "[[route.extra]]\n"
        "[[route.extra]]\n"
        "k = 1\n"
    )
    tomllib.loads(source)
    loc = locate(source)
    assert loc.exact(("server",)) == 1
    assert loc.exact(("server", "timeouts")) == 2
    assert loc.exact(("server", "timeouts", "header")) == 2
    assert loc.exact(("route", 1, "respond", "status")) == 5
    assert loc.exact(("route", 1, "headers", "x-a")) == 7
    assert loc.exact(("route", 1, "extra", 1, "k")) == 10
    assert loc.key_lines(("route", 1)) == {"respond": 5, "headers": 6, "extra": 8}


def test_crlf_line_endings() -> None:
    source = "[server]\r\nworkers = 2\r\n\r\n[[route]]\r\npath = '/'\r\n"
    loc = locate(source)
    assert loc.exact(("server", "workers")) == 2
    assert loc.exact(("route", 0, "path")) == 5


def test_stops_quietly_on_broken_text_and_keeps_what_it_found() -> None:
    loc = locate('[server]\nworkers = 2\nlisten "x"\n[dev]\nreload = true\n')
    assert loc.exact(("server", "workers")) == 2
    assert loc.exact(("dev",)) is None
    for broken in ['a = "unterminated', "a = [1, 2", "[[", "= 1", "a = '''x", "a = {b = 1"]:
        locate(broken)  # must not raise


def test_format_key() -> None:
    assert format_key(("route", 2, "handler")) == "route[2].handler"
    assert format_key(("static", 0, "mime", ".js")) == 'static[0].mime.".js"'
    assert format_key(("errors", "404")) == "errors.404"
    assert format_key(("server", 'a"b')) == 'server."a\\"b"'
    assert format_key(()) == ""
