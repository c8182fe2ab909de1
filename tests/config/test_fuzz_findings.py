"""The config fuzzer's findings (tests/config/test_fuzz_config.py), each a small case that
failed before its fix: `gateway check` on these printed a traceback, not the errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.cli import main


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    (tmp_path / "gateway.toml").write_text(textwrap.dedent(text))
    capsys.readouterr()
    status = main(["check", "--config", str(tmp_path / "gateway.toml")])
    out, err = capsys.readouterr()
    return status, out + err


def test_a_route_to_a_broken_upstream_gets_the_upstreams_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The route was compiled against the upstreams that read cleanly: KeyError: 'api'."""
    status, shown = check(
        tmp_path,
        """\
        [upstream.api]
        servers = false

        [[route]]
        path = "/api/{rest:path}"
        proxy = { upstream = "api" }
        """,
        capsys,
    )
    assert status == 1
    assert "gateway.toml:2: upstream.api.servers: expected a list of server addresses" in shown
    assert "Traceback" not in shown and "KeyError" not in shown
    assert shown.rstrip().endswith("1 error")
