"""devpage.py: the dev error page shows the exception, every frame's source with the failing
line marked, the request with secrets masked, and escapes everything a client or handler
could put in it."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gateway import devpage
from gateway.http.headers import Headers
from gateway.request import Request

HOSTILE = "<script>alert(1)</script>"

HANDLER = """\
def helper(name):
    total = 0
    value = int(name)  # line 3: fails for a name that is not a number
    return total + value


def get_user(request):
    return helper(request.params["name"])


def chained(request):
    try:
        {}["missing"]
    except KeyError as exc:
        raise RuntimeError("lookup failed <b>") from exc
"""


def _load(tmp_path: Path) -> ModuleType:
    path = tmp_path / "users_api.py"
    path.write_text(HANDLER)
    spec = importlib.util.spec_from_file_location("users_api_devpage_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _request(path: str = "/api/users/x", query: str = "") -> Request:
    headers = Headers(
        [
            ("host", "localhost"),
            ("authorization", "Bearer s3cr3t-token"),
            ("cookie", "session=abcdef"),
            ("x-evil", HOSTILE),
            ("accept", "text/html"),
        ]
    )
    request = Request(
        "GET", path, headers, query_string=query, id="req-42", client=("127.0.0.1", 5555)
    )
    return request


def _raise(func, request):  # type: ignore[no-untyped-def]
    try:
        func(request)
    except Exception as exc:
        return exc
    raise AssertionError("handler did not raise")


def test_frames_with_source_and_the_failing_line_marked(tmp_path: Path) -> None:
    module = _load(tmp_path)
    request = _request()
    request.params = {"name": HOSTILE}
    page = devpage.render(_raise(module.get_user, request), request).decode()
    assert "<h1>ValueError</h1>" in page
    assert "<b>get_user</b>" in page and "<b>helper</b>" in page
    marked = re.findall(r"<span class=cur>(.*?)</span>", page)
    assert any("value = int(name)" in line and "     3" in line for line in marked)
    assert "total = 0" in page  # context lines around the failing one
    assert "request id req-42" in page


def test_everything_is_escaped(tmp_path: Path) -> None:
    module = _load(tmp_path)
    request = _request(path="/<img src=x onerror=alert(1)>", query="q=" + HOSTILE)
    request.params = {"name": HOSTILE}
    page = devpage.render(_raise(module.get_user, request), request).decode()
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    assert dict(devpage.HEADERS)["content-security-policy"].startswith("default-src 'none'")


def test_secrets_are_masked(tmp_path: Path) -> None:
    module = _load(tmp_path)
    request = _request(query="page=2&access_token=tok123&Password=hunter2")
    request.params = {"name": "x"}
    page = devpage.render(_raise(module.get_user, request), request).decode()
    for secret in ("s3cr3t-token", "abcdef", "tok123", "hunter2"):
        assert secret not in page
    assert "<th>authorization</th><td>" + devpage.MASK in page
    assert "<th>page</th><td>2</td>" in page


def test_chained_exceptions_are_shown_oldest_first(tmp_path: Path) -> None:
    module = _load(tmp_path)
    page = devpage.render(_raise(module.chained, _request()), _request()).decode()
    key_error = page.index("<h2>KeyError")
    runtime = page.index("<h2>RuntimeError: lookup failed &lt;b&gt;")
    assert key_error < page.index("direct cause") < runtime


def test_library_frames_are_collapsed_and_missing_source_is_said() -> None:
    import json

    try:
        json.loads("{bad")
    except ValueError as exc:
        error = exc
    page = devpage.render(error, _request()).decode()
    assert "<details class='frame lib'>" in page  # the stdlib's frames start closed
    code = compile("1/0", "<generated>", "exec")
    try:
        exec(code)
    except ZeroDivisionError as exc:
        error2 = exc
    assert "(source not available)" in devpage.render(error2, _request()).decode()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/html,application/xhtml+xml,*/*;q=0.8", True),
        ("*/*", False),
        ("application/json", False),
        ("text/html;q=0", False),
        (None, False),
    ],
)
def test_wants_page(accept: str | None, expected: bool) -> None:
    assert devpage.wants_page(accept) is expected


def test_response_is_a_500_that_runs_no_script(tmp_path: Path) -> None:
    module = _load(tmp_path)
    request = _request()
    request.params = {"name": "x"}
    response = devpage.response(_raise(module.get_user, request), request)
    assert response.status == 500
    assert response.get_header("cache-control") == "no-store"
    assert response.get_header("content-type") == "text/html; charset=utf-8"
