"""Proxy config through the whole loader and the CLI: `gateway check` reports every proxy
mistake of a gateway.toml (and of the files it includes) as file:line: key: message, and
`gateway routes` lists proxy routes with their upstream and methods."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.cli import main

BROKEN = """\
[server]
trusted_proxies = ["10.0.0.1/8"]

[upstream.api]
servers = ["127.0.0.1"]
balanse = "least_conn"

[[route]]
path = "/api/{rest:path}"
proxy = { upstream = "apu", strip_prefix = "/apx" }

[[route]]
path = "/both"
respond = { status = 200 }
proxy = "http://127.0.0.1:1"

[[route]]
path = "/url"
proxy = "https://127.0.0.1:1/v1"
"""


def test_check_names_every_proxy_mistake_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "gateway.toml").write_text(BROKEN)
    assert main(["check", "--config", str(tmp_path / "gateway.toml")]) == 1
    err = capsys.readouterr().err
    for expected in (
        "gateway.toml:2: server.trusted_proxies[0]: '10.0.0.1/8' has host bits set: write '10.0.0.0/8'",
        "gateway.toml:5: upstream.api.servers[0]: '127.0.0.1' is not host:port",
        "gateway.toml:6: upstream.api.balanse: unknown key 'balanse' (did you mean 'balance'?)",
        "gateway.toml:10: route[0].proxy.upstream: no upstream named 'apu'",
        "gateway.toml:10: route[0].proxy.strip_prefix: '/apx' is not a prefix",
        "gateway.toml:15: route[1]: sets both 'respond' and 'proxy'",
        "gateway.toml:19: route[2].proxy:",
    ):
        assert expected in err, (expected, err)


def test_upstreams_come_from_included_files_and_routes_lists_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "upstreams.toml").write_text('[upstream.api]\nservers = ["127.0.0.1:9001"]\n')
    (tmp_path / "gateway.toml").write_text(
        textwrap.dedent("""\
        include = ["upstreams.toml"]

        [[route]]
        path = "/api/{rest:path}"
        methods = ["*"]
        proxy = { upstream = "api", strip_prefix = "/api" }

        [[route]]
        path = "/dev/{rest:path}"
        proxy = "http://127.0.0.1:5173"
        """)
    )
    config = str(tmp_path / "gateway.toml")
    assert main(["check", "--config", config]) == 0
    assert main(["routes", "--config", config]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [
        "*",
        "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS",
        "/api/{rest:path}",
        "proxy",
        "api",
        "-",
    ] in rows
    assert ["*", "GET,HEAD", "/dev/{rest:path}", "proxy", "127.0.0.1:5173", "-"] in rows
