"""One case per kind of mistake in the file as a whole, [server], [dev] and [cors.NAME],
each with its exact `file:line: key: message` text."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.load import ConfigLoadError, load_config
from tests.config.conftest import Check

CASES = {
    "toml syntax": (
        """\
        [server]
        workers = 1
            listen "127.0.0.1:8000"
        """,
        [
            "gateway.toml:3: invalid toml: expected '=' after a key in a key/value pair"
            " (at line 3, column 12)\n"
            '        listen "127.0.0.1:8000"\n'
            "               ^"
        ],
    ),
    "toml syntax at end of document": (
        'x = 1\na = "open',
        [
            "gateway.toml:2: invalid toml: unterminated string (at end of document)\n"
            '    a = "open\n'
            "             ^"
        ],
    ),
    "unknown top-level key": (
        "routes = []\n",
        ["gateway.toml:1: routes: unknown key 'routes' (did you mean 'route'?)"],
    ),
    "a key above the first header": (
        "workers = 2\nhost = 'a.example'\n[server]\n",
        [
            "gateway.toml:1: workers: unknown key 'workers': it belongs under [server]",
            "gateway.toml:2: host: unknown key 'host': it belongs under [[route]] or [[static]]",
        ],
    ),
    "a table declared twice": (
        "[cors.app]\n\n[cors.app]\n",
        [
            "gateway.toml:3: invalid toml: cannot declare cors.app twice (at line 3, column 10)\n"
            "    [cors.app]\n"
            "             ^"
        ],
    ),
    "unknown key with a close match": (
        "[server]\nlistne = '127.0.0.1:8000'\n",
        ["gateway.toml:2: server.listne: unknown key 'listne' (did you mean 'listen'?)"],
    ),
    "unknown key without a close match": (
        "[dev]\nzzz = 1\n",
        [
            "gateway.toml:2: dev.zzz: unknown key 'zzz': "
            "valid keys are reload, live_reload, debounce, watch, allow, key"
        ],
    ),
    "unknown key in an inline table": (
        "[server]\ntimeouts = { header = '10s', bdy = '1s' }\n",
        ["gateway.toml:2: server.timeouts.bdy: unknown key 'bdy' (did you mean 'body'?)"],
    ),
    "wrong type": (
        "[server]\nworkers = '2'\n",
        ["gateway.toml:2: server.workers: expected an integer, got a string ('2')"],
    ),
    "a boolean is not an integer": (
        "[server]\nhandler_threads = true\n",
        ["gateway.toml:2: server.handler_threads: expected an integer, got a boolean (true)"],
    ),
    "an integer is not a boolean": (
        "[dev]\nreload = 1\n",
        ["gateway.toml:2: dev.reload: expected true or false, got an integer (1)"],
    ),
    "live_reload contradicted by reload = false": (
        "[dev]\nreload = false\nlive_reload = true\n",
        [
            "gateway.toml:3: dev.live_reload: live_reload = true needs reload, but reload = false: "
            "drop 'reload = false' (live_reload turns it on) or set live_reload = false"
        ],
    ),
    "a table where a value belongs": (
        "[server.root]\nx = 1\n",
        ["gateway.toml:1: server.root: expected a string, got a table"],
    ),
    "a table where an array of tables belongs": (
        "[route]\npath = '/'\n",
        ["gateway.toml:1: route: expected a list of tables ([[route]]), got a table"],
    ),
    "listen is not host:port": (
        "[server]\nlisten = 'localhost'\n",
        [
            "gateway.toml:2: server.listen: 'localhost' is not host:port: "
            "write e.g. '127.0.0.1:8000' or '[::1]:8000'"
        ],
    ),
    "listen entries are each checked": (
        "[server]\nlisten = [\n  '[::1]:8000',\n  '::1:8000',\n  '127.0.0.1:65536',\n  8000,\n]\n",
        [
            "gateway.toml:4: server.listen[1]: '::1:8000' is not host:port: "
            "write e.g. '127.0.0.1:8000' or '[::1]:8000'",
            "gateway.toml:5: server.listen[2]: '127.0.0.1:65536' has port 65536: "
            "ports go from 0 to 65535",
            "gateway.toml:6: server.listen[3]: expected a string, got an integer (8000)",
        ],
    ),
    "listen needs an address": (
        "[server]\nlisten = []\n",
        [
            "gateway.toml:2: server.listen: needs at least one address: "
            "write e.g. '127.0.0.1:8000' or '[::1]:8000'"
        ],
    ),
    "workers below 1": (
        "[server]\nworkers = 0\n",
        ["gateway.toml:2: server.workers: must be at least 1, got 0"],
    ),
    "bad size": (
        "[server]\nmax_body_bytes = '10XB'\n",
        [
            "gateway.toml:2: server.max_body_bytes: '10XB' is not a size: use a number of "
            "bytes or a number with B, KB, MB, GB, KiB, MiB or GiB"
        ],
    ),
    "size of the wrong type": (
        "[server]\nmax_header_bytes = 1.5\n",
        [
            "gateway.toml:2: server.max_header_bytes: expected a size (a number of bytes "
            "or a string like '10MB'), got a float (1.5)"
        ],
    ),
    "bad duration": (
        "[server]\ntimeouts = { header = '10 minutes' }\n",
        [
            "gateway.toml:2: server.timeouts.header: '10 minutes' is not a duration: "
            "use a number of seconds or a number with ms, s, m or h"
        ],
    ),
    "timeouts are more than zero": (
        "[server.timeouts]\nidle = 0\n",
        ["gateway.toml:2: server.timeouts.idle: must be more than 0 seconds, got 0"],
    ),
    "not one of the choices": (
        "[server]\naccess_log = 'comon'\n",
        [
            "gateway.toml:2: server.access_log: 'comon' is not one of 'off', 'common', "
            "'combined', 'json' (did you mean 'common'?)"
        ],
    ),
    "a choice of the wrong type": (
        "[server]\ntrailing_slash = true\n",
        [
            "gateway.toml:2: server.trailing_slash: expected one of 'redirect', 'strict', "
            "got a boolean (true)"
        ],
    ),
    "inline_limit of zero": (
        "[server]\ninline_limit = '0ms'\n",
        ["gateway.toml:2: server.inline_limit: must be more than 0 seconds, got '0ms'"],
    ),
    "dev.watch choice": (
        "[dev]\nwatch = 'inotify'\n",
        ["gateway.toml:2: dev.watch: 'inotify' is not one of 'native', 'poll'"],
    ),
    "root does not exist": (
        "[server]\nroot = 'site'\n",
        ["gateway.toml:2: server.root: directory '{root}/site' does not exist"],
    ),
    "unknown cors policy": (
        """\
        [cors.app]
        allow_origins = ['http://a']

        [[route]]
        path = '/api'
        handler = 'api.x:y'
        cors = 'ap'
        """,
        [
            "gateway.toml:7: route[0].cors: no cors policy named 'ap' "
            "(did you mean 'app'?); define it as [cors.ap]"
        ],
    ),
    "server cors names a policy": (
        "[server]\ncors = false\n",
        ["gateway.toml:2: server.cors: expected a cors policy name, got a boolean (false)"],
    ),
    "cors policy that is not a named table": (
        "[cors]\nallow_origins = ['*']\n",
        [
            "gateway.toml:2: cors.allow_origins: a cors policy is a named table: "
            "put 'allow_origins' under [cors.NAME]"
        ],
    ),
    "cors and upstream names that are not tables": (
        "[cors]\nweb = 3\n\n[upstream]\nx = 1\n",
        [
            "gateway.toml:2: cors.web: a cors policy is a named table: write [cors.NAME]",
            "gateway.toml:5: upstream.x: an upstream is a named table: write [upstream.NAME]",
        ],
    ),
    "cors policy keys and types": (
        """\
        [cors.app]
        allow_origins = "http://a"
        allow_methods = ["GET", "P OST"]
        allow_headers = ["content type"]
        max_age = "10 min"
        allow_credentials = "yes"
        alow_private_network = true
        """,
        [
            "gateway.toml:2: cors.app.allow_origins: expected a list of strings, "
            "got a string ('http://a')",
            "gateway.toml:3: cors.app.allow_methods[1]: 'P OST' is not an HTTP method: "
            "write e.g. 'GET' or 'POST'",
            "gateway.toml:4: cors.app.allow_headers[0]: 'content type' is not a header name: "
            "write e.g. 'content-type'",
            "gateway.toml:5: cors.app.max_age: '10 min' is not a duration: "
            "use a number of seconds or a number with ms, s, m or h",
            "gateway.toml:6: cors.app.allow_credentials: expected true or false, "
            "got a string ('yes')",
            "gateway.toml:7: cors.app.alow_private_network: unknown key "
            "'alow_private_network' (did you mean 'allow_private_network'?)",
        ],
    ),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_mistake(check: Check, text: str, expected: list[str]) -> None:
    assert check(text) == expected


def test_a_bad_root_is_reported_once_not_for_every_path_below_it(check: Check) -> None:
    assert check(
        """\
        [server]
        root = 'site'
        [[static]]
        prefix = '/'
        dir = 'public'
        [errors]
        404 = 'public/404.html'
        """
    ) == ["gateway.toml:2: server.root: directory '{root}/site' does not exist"]


def test_issues_name_the_file_as_given(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "site.toml"
    path.parent.mkdir()
    path.write_text("[server]\nworkers = 0\n")
    with pytest.raises(ConfigLoadError) as caught:
        load_config(path)
    assert [str(issue) for issue in caught.value.issues] == [
        f"{path}:2: server.workers: must be at least 1, got 0"
    ]


def test_a_file_that_is_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("gateway.toml").write_bytes(b"[server]\nroot = '\xff'\n")
    with pytest.raises(ConfigLoadError) as caught:
        load_config("gateway.toml")
    assert str(caught.value) == (
        "gateway.toml:2: is not UTF-8 text: byte b'\\xff' at column 9 (invalid start byte):"
        " save the file as UTF-8"
    )
    assert caught.value.partial is None


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "gateway.toml")
