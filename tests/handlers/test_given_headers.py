"""Issue 9, "Two Content-Type headers": a header a handler gives replaces the default of the
same name (case-insensitively) on every return path, inline and pooled, and HTML a handler
marks as such gets the live-reload client. Through gateway.testing: no socket needed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.livereload import LiveReload
from gateway.testing import Transport
from tests.handlers.conftest import InProcess
from tests.support import write_site

SITE = """
    [server]
    access_log = "off"

    [[route]]
    path = "/pooled/{kind}"
    handler = "api.given:answer"

    [[route]]
    path = "/inline/{kind}"
    handler = "api.given:answer"
    inline = true
"""

GIVEN = """
    from gateway import HTTPError, Response

    def answer(request):
        kind = request.params["kind"]
        if kind == "tuple-html":
            return 200, "<html><body>hi</body></html>", {"content-type": "text/html"}
        if kind == "tuple-json":
            return 201, {"id": 1}, {"Content-Type": "application/vnd.api+json"}
        if kind == "json-problem":
            return Response.json({"title": "no"}, 400, {"content-type": "application/problem+json"})
        if kind == "text-csv":
            return Response.text("a,b", headers=[("CONTENT-TYPE", "text/csv")])
        if kind == "error":
            raise HTTPError(400, '{"error": "bad"}', {"content-type": "application/json"})
        return "plain"
"""


@pytest.fixture(params=["pooled", "inline"])
def client(in_process: InProcess, request: pytest.FixtureRequest) -> httpx.Client:
    client = in_process(SITE, {"api/given.py": GIVEN})
    client.base_url = httpx.URL(f"http://test/{request.param}/")
    return client


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("tuple-html", 200, "text/html"),
        ("tuple-json", 201, "application/vnd.api+json"),
        ("json-problem", 400, "application/problem+json"),
        ("text-csv", 200, "text/csv"),
        ("error", 400, "application/json"),
        ("default", 200, "text/plain; charset=utf-8"),
    ],
)
def test_the_handlers_content_type_is_the_only_one(
    client: httpx.Client, kind: str, status: int, content_type: str
) -> None:
    response = client.get(kind)
    assert response.status_code == status
    assert response.headers.get_list("content-type") == [content_type]


def test_html_with_its_own_content_type_gets_the_live_reload_client(tmp_path: Path) -> None:
    config = write_site(tmp_path, SITE + "\n[dev]\nlive_reload = true\n", {"api/given.py": GIVEN})
    app = build_app(load_config(config), live=LiveReload())
    with httpx.Client(transport=Transport(app), base_url="http://test") as client:
        page = client.get("/pooled/tuple-html")
    app.close()
    assert page.headers.get_list("content-type") == ["text/html"]
    assert b"data-gateway-live-reload" in page.content
