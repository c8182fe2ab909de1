"""`gateway check` refuses handlers that can only fail (issue 9): a function that takes no
argument, an async one alike, anything not callable, each at build time with the file:line
of the definition; and a module broken for several routes is one issue at the source
(build_app's ConfigError), naming the other routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import build_app
from gateway.cli import main
from gateway.config.load import load_config
from gateway.errors import ConfigError
from tests.support import write_site

HANDLERS = """\
import functools

def noargs():
    return "never"

async def async_noargs():
    return "never"

def fine(request):
    return "ok"

async def async_fine(request):
    return "ok"

def two(request, extra):
    return "never"

partial_fine = functools.partial(two, extra=1)

NOT_A_FUNCTION = 42
"""


def issues_for(tmp_path: Path, *refs: str, files: dict[str, str] | None = None) -> list[str]:
    routes = "".join(
        f'[[route]]\npath = "/r{n}"\nhandler = "{ref}"\n\n' for n, ref in enumerate(refs)
    )
    config = write_site(tmp_path, routes, files or {"api.py": HANDLERS})
    try:
        build_app(load_config(config)).close()
    except ConfigError as exc:
        return [str(issue) for issue in exc.issues]
    return []


def test_handlers_that_can_take_the_request_pass(tmp_path) -> None:
    assert issues_for(tmp_path, "api:fine", "api:async_fine", "api:partial_fine") == []


@pytest.mark.parametrize(
    "ref, shown",
    [
        (
            "api:noargs",
            "api.py:3: handler 'api:noargs' cannot take the request: its parameters are (); "
            "define it as `def noargs(request)`",
        ),
        (
            "api:async_noargs",
            "api.py:6: handler 'api:async_noargs' cannot take the request: its parameters "
            "are (); define it as `async def async_noargs(request)`",
        ),
        ("api:two", "api.py:15: handler 'api:two' cannot take the request"),
        ("api:NOT_A_FUNCTION", "api.py:20: 'api:NOT_A_FUNCTION' is a int, not a function"),
    ],
)
def test_a_handler_that_can_only_fail_is_a_config_error_at_its_line(tmp_path, ref, shown) -> None:
    issues = issues_for(tmp_path, ref)
    assert len(issues) == 1 and "gateway.toml:3: route[0].handler: " in issues[0]
    assert shown in issues[0], issues[0]


def test_a_module_broken_for_three_routes_is_one_issue_at_the_source(tmp_path) -> None:
    broken = {"api.py": "def f(request):\n    return (\n"}
    issues = issues_for(tmp_path, "api:f", "api:g", "api:f", files=broken)
    assert len(issues) == 1, issues
    assert "importing 'api' failed: api.py:2: SyntaxError" in issues[0]
    config = tmp_path / "gateway.toml"
    also = f"(also used by route[1].handler at {config}:7, route[2].handler at {config}:11)"
    assert issues[0].endswith(also), issues[0]


def test_one_function_with_the_wrong_signature_for_two_routes_is_one_issue(tmp_path) -> None:
    issues = issues_for(tmp_path, "api:noargs", "api:noargs", "api:two")
    assert len(issues) == 2, issues


def test_gateway_check_says_it_once_with_the_source_line(tmp_path, capsys) -> None:
    issues_for(tmp_path, "api:noargs", "api:noargs")
    assert main(["check", "--config", str(tmp_path / "gateway.toml")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "1 error"
    assert "cannot take the request" in err[0] and "also used by route[1].handler" in err[0]
