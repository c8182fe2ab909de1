"""`include`: route, static and cors tables from other files, merged in sorted glob order;
every error names its own file and line; cycles, missing files and main-only tables in an
included file are errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.config.load import ConfigLoadError, load_config
from gateway.config.schema import GatewayConfig

MAIN = """\
include = ["routes/*.toml", "cors.toml"]

[[route]]
path = "/main"
respond = { body = "main" }
"""

FILES = {
    "routes/b.toml": """\
        [[route]]
        path = "/b"
        respond = { body = "b" }
        cors = "app"
    """,
    "routes/a.toml": """\
        # a comes before b
        [[route]]
        path = "/a"
        respond = { body = "a" }

        [[static]]
        prefix = "/files"
        dir = "public"
    """,
    "cors.toml": """\
        [cors.app]
        allow_origins = ["https://example.com"]
    """,
}


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "public").mkdir()

    def write(main: str, files: dict[str, str]) -> Path:
        for name, text in files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(textwrap.dedent(text))
        (tmp_path / "gateway.toml").write_text(textwrap.dedent(main))
        return tmp_path / "gateway.toml"

    return write


def issues(path: Path) -> list[str]:
    with pytest.raises(ConfigLoadError) as caught:
        load_config(path)
    return [str(issue) for issue in caught.value.issues]


def test_included_tables_are_merged_in_sorted_order(site) -> None:
    config: GatewayConfig = load_config(site(MAIN, FILES))
    assert [r.path for r in config.routes] == ["/main", "/a", "/b"]
    assert [s.prefix for s in config.static] == ["/files"]
    assert list(config.cors) == ["app"]
    assert [p.name for p in config.includes] == ["a.toml", "b.toml", "cors.toml"]
    assert config.include_patterns == (str(Path.cwd() / "routes/*.toml"),)
    # Specs point at their own file, so later stages (handler imports) name it too.
    assert (config.routes[2].where.file, config.routes[2].where.line) == ("routes/b.toml", 1)
    assert config.routes[2].where.key == "route[0]"


def test_each_error_names_its_own_file_and_line(site) -> None:
    files = {
        **FILES,
        "routes/b.toml": """\
            [[route]]
            path = "/b"
            respond = { body = "b" }

            [[route]]
            path = "no-slash"
            respond = { status = "x" }
        """,
    }
    main = MAIN.replace('path = "/main"', 'path = "/main"\nmethods = 3')
    assert issues(site(main, files)) == [
        "gateway.toml:5: route[0].methods: expected a list of methods like ['GET', 'POST'], got an integer (3)",
        "routes/b.toml:6: route[1].path: 'no-slash' does not start with '/': write e.g. '/no-slash'",
        "routes/b.toml:7: route[1].respond.status: expected an integer, got a string ('x')",
    ]


def test_a_missing_file_a_cycle_and_main_only_tables_are_errors(site) -> None:
    files = {
        "routes/a.toml": 'include = ["../gateway.toml"]\n',
        "routes/b.toml": '[server]\nworkers = 2\n\n[[route]]\npath = "/b"\nrespond = {}\n',
    }
    main = 'include = [\n  "routes/*.toml",\n  "nope.toml",\n]\n'
    assert issues(site(main, files)) == [
        f"gateway.toml:3: include[1]: file {str(Path.cwd() / 'nope.toml')!r} does not exist",
        "routes/a.toml:1: include[0]: include cycle: gateway.toml -> routes/a.toml -> "
        "gateway.toml: an included file may not include itself",
        "routes/b.toml:1: server: 'server' cannot be set in an included file: it may hold "
        "[[route]], [[static]], [cors.NAME] and include; set 'server' in the main config",
    ]


def test_nested_includes_resolve_from_their_own_folder(site) -> None:
    files = {
        "routes/all.toml": 'include = ["api/*.toml"]\n',
        "routes/api/users.toml": '[[route]]\npath = "/users"\nrespond = { body = "u" }\n',
    }
    config = load_config(site('include = ["routes/all.toml"]\n', files))
    assert [r.path for r in config.routes] == ["/users"]
    assert config.routes[0].where.file == "routes/api/users.toml"


def test_a_cors_policy_defined_twice_and_a_syntax_error(site) -> None:
    files = {
        "cors.toml": FILES["cors.toml"],
        "more.toml": "[cors.app]\nallow_origins = ['*']\n",
        "bad.toml": "[[route]\n",
    }
    main = 'include = ["cors.toml", "more.toml", "bad.toml"]\n'
    found = issues(site(main, files))
    assert found[0].startswith("bad.toml:1: invalid toml: ")
    assert found[1] == "more.toml:1: cors.app: cors policy 'app' is already defined at cors.toml:1"


def test_an_empty_glob_is_fine(site) -> None:
    config = load_config(site('include = ["routes/*.toml"]\n', {}))
    assert config.routes == () and config.includes == ()


def test_env_references_and_handler_errors_in_an_included_file_name_it(site) -> None:
    from gateway.app import build_app
    from gateway.config.load import parse_config
    from gateway.errors import ConfigError

    files = {
        "routes/a.toml": """\
            [[route]]
            path = "/env"
            respond = { body = "${UNSET_IN_TEST}" }
        """,
        "routes/b.toml": """\

            [[route]]
            path = "/h"
            handler = "api.nope:f"
        """,
    }
    path = site('include = ["routes/*.toml"]\n', files)
    with pytest.raises(ConfigLoadError) as caught:
        parse_config(path.read_text(), path, {})
    assert [str(i) for i in caught.value.issues] == [
        "routes/a.toml:3: route[0].respond.body: environment variable 'UNSET_IN_TEST' is not "
        "set: set it, or give a default as ${UNSET_IN_TEST:-default}"
    ]
    config = parse_config(path.read_text(), path, {"UNSET_IN_TEST": "x"})
    assert config.env[0].file == "routes/a.toml" and config.env[0].line == 3
    with pytest.raises(ConfigError) as built:
        build_app(config)
    assert str(built.value.issues[0]).startswith(
        "routes/b.toml:4: route[0].handler: module 'api.nope' not found"
    )
