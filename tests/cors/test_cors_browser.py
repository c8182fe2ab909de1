"""CORS end to end in a real browser: headless Chromium loads a page from one gateway origin
(the "app") and fetch()es an API on a second (the "api"), and an iframe from a third origin
(not allowed) tries the same. Each page posts what its fetches saw back to its own origin,
where a handler writes it to a file the test polls for. The API's handler records what
reached it, so "blocked by the preflight" (never sent) and "sent but unreadable" (a simple
request from a refused origin) can be told apart."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.browser import headless, needs_chromium
from tests.support import Running, running_server, wait_for, write_site

DEADLINE = 20.0

pytestmark = needs_chromium

# The scenarios, by name. Each page runs the ones its URL names (?run=a,b), in order, and
# reports {name: {ok, status, exposed, hidden, body}} (body parsed when JSON), or
# {name: {error}} when the browser blocked the fetch.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>cors end to end</title>
<script>
const params = new URLSearchParams(location.search);
const api = params.get("api");
const SCENARIOS = {
  simple_get: () => fetch(api + "/api/data"),
  put_custom: () => fetch(api + "/api/items/1", {
    method: "PUT",
    headers: {"x-custom": "put", "content-type": "application/json"},
    body: JSON.stringify({n: 1}),
  }),
  delete_custom: () => fetch(api + "/api/items/2", {
    method: "DELETE",
    headers: {"x-custom": "delete"},
  }),
  method_refused: () => fetch(api + "/api/items/3", {method: "PATCH"}),
  header_refused: () => fetch(api + "/api/items/4", {headers: {"x-forbidden": "1"}}),
  error_readable: () => fetch(api + "/api/missing"),
  credentials_allowed: () => fetch(api + "/creds/whoami", {credentials: "include"}),
  credentials_omitted: () => fetch(api + "/creds/whoami"),
  credentials_refused: () => fetch(api + "/api/whoami", {credentials: "include"}),
};

async function run(names) {
  const results = {};
  for (const name of names) {
    try {
      const r = await SCENARIOS[name]();
      results[name] = {
        ok: r.ok,
        status: r.status,
        exposed: r.headers.get("x-exposed"),
        hidden: r.headers.get("x-hidden"),
        body: (r.headers.get("content-type") || "").startsWith("application/json")
          ? await r.json() : await r.text(),
      };
    } catch (e) {
      results[name] = {error: e.name};
    }
  }
  return results;
}

async function main() {
  let report;
  try {
    document.cookie = "session=s3cret; path=/";
    report = {origin: location.origin, results: await run(params.get("run").split(","))};
  } catch (e) {
    report = {fatal: String(e)};
  }
  await fetch("/report", {method: "POST", body: JSON.stringify(report)});
}
main();
</script>
<body>
"""

REPORTER = {
    "api/__init__.py": "",
    "api/report.py": """
        import os
        from pathlib import Path

        OUT = Path(__file__).resolve().parent.parent / "report.json"

        def report(request):
            tmp = OUT.with_suffix(".tmp")
            tmp.write_bytes(request.body)
            os.replace(tmp, OUT)  # the test sees all of it or nothing
    """,
}

PAGE_SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [[static]]
    prefix = "/"
    dir = "public"

    [[route]]
    path = "/report"
    methods = ["POST"]
    handler = "api.report:report"
"""

API_SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    cors = "web"

    [cors.web]
    allow_origins = ["{app}"]
    allow_methods = ["GET", "PUT", "DELETE"]
    allow_headers = ["x-custom", "content-type"]
    expose_headers = ["x-exposed"]

    [cors.creds]
    allow_origins = ["{app}"]
    allow_credentials = true

    [[route]]
    path = "/api/data"
    handler = "api.api:data"

    [[route]]
    path = "/api/items/{{id:int}}"
    methods = ["GET", "PUT", "DELETE", "PATCH"]
    handler = "api.api:item"

    [[route]]
    path = "/api/whoami"
    handler = "api.api:whoami"

    [[route]]
    path = "/creds/whoami"
    handler = "api.api:whoami"
    cors = "creds"
"""

API_FILES = {
    "api/__init__.py": "",
    "api/api.py": """
        import threading

        hits = []  # (method, path, origin, cookie) of every request a handler saw
        lock = threading.Lock()

        def record(request):
            h = request.headers
            with lock:
                hits.append((request.method, request.path, h.get("origin"), h.get("cookie")))

        def data(request):
            record(request)
            return 200, {"data": 1}, {"x-exposed": "yes", "x-hidden": "secret"}

        def item(request):
            record(request)
            body = {"method": request.method, "custom": request.headers.get("x-custom")}
            return 200, body, {"x-exposed": "item"}

        def whoami(request):
            record(request)
            return {"cookie": request.headers.get("cookie")}
    """,
}

APP_RUNS = [
    "simple_get",
    "put_custom",
    "delete_custom",
    "method_refused",
    "header_refused",
    "error_readable",
    "credentials_allowed",
    "credentials_omitted",
    "credentials_refused",
]
OTHER_RUNS = ["simple_get", "put_custom"]


def blocked() -> dict[str, str]:
    return {"error": "TypeError"}  # what fetch() rejects with when CORS fails


def readable(status: int, body: Any, exposed: str | None = None) -> dict[str, Any]:
    return {"ok": status < 400, "status": status, "exposed": exposed, "hidden": None, "body": body}


def handler_module(running: Running, name: str) -> ModuleType:
    return sys.modules[f"{running.server.app.modules.package}.{name}"]


def report_of(root: Path) -> dict[str, Any] | None:
    path = root / "report.json"
    return json.loads(path.read_text()) if path.exists() else None


@pytest.fixture
def origins(tmp_path: Path) -> Iterator[tuple[Running, Running, Running]]:
    """(app, other, api): three servers on 127.0.0.1, so three origins; the api's policies
    list the app's origin only."""
    with ExitStack() as stack:

        def serve(name: str, config: str, files: dict[str, str]) -> Running:
            path = write_site(tmp_path / name, config, files)
            return stack.enter_context(running_server(path))

        app = serve("app", PAGE_SITE, {**REPORTER, "public/index.html": "pending"})
        other = serve("other", PAGE_SITE, {**REPORTER, "public/index.html": "pending"})
        api = serve("api", API_SITE.format(app=app.url), API_FILES)
        yield app, other, api


def write_pages(app: Running, other: Running, api: Running, root: Path) -> str:
    """The app page (with the other origin's page in an iframe); returns its URL."""
    (root / "other/public/index.html").write_text(PAGE)
    frame = f'<iframe src="{other.url}/?api={api.url}&run={",".join(OTHER_RUNS)}"></iframe>\n'
    (root / "app/public/index.html").write_text(PAGE + frame)
    return f"{app.url}/?api={api.url}&run={','.join(APP_RUNS)}"


def run_chromium(url: str, profile: Path, done: Any, log: Path) -> None:
    """Run headless Chromium on `url` until `done()` or the deadline."""
    with headless(url, profile, log) as proc:
        with contextlib.suppress(AssertionError):  # reported below, with chromium's output
            wait_for(lambda: done() or proc.poll() is not None, timeout=DEADLINE, interval=0.05)
        if not done():
            state = "still running" if proc.poll() is None else f"exited {proc.returncode}"
            tail = log.read_text(errors="replace")[-3000:]
            raise AssertionError(
                f"no report within {DEADLINE}s (chromium {state})\n--- chromium output ---\n{tail}"
            )


def test_cors_in_a_real_browser(origins, tmp_path):
    app, other, api = origins
    url = write_pages(app, other, api, tmp_path)
    app_root, other_root = tmp_path / "app", tmp_path / "other"

    def done() -> bool:
        return report_of(app_root) is not None and report_of(other_root) is not None

    run_chromium(url, tmp_path / "profile", done, tmp_path / "chromium.log")

    mine, theirs = report_of(app_root), report_of(other_root)
    assert mine is not None and theirs is not None
    assert "fatal" not in mine and "fatal" not in theirs, (mine, theirs)
    assert mine["origin"] == app.url
    results = mine["results"]
    cookie = "session=s3cret"

    # Allowed: a simple GET reads the exposed header, not the other one.
    assert results["simple_get"] == readable(200, {"data": 1}, exposed="yes")
    # Allowed: preflighted PUT and DELETE with a custom header (and a JSON content-type).
    assert results["put_custom"] == readable(200, {"method": "PUT", "custom": "put"}, "item")
    deleted = {"method": "DELETE", "custom": "delete"}
    assert results["delete_custom"] == readable(200, deleted, "item")
    # Refused by the preflight: the browser never sends the request.
    assert results["method_refused"] == blocked()
    assert results["header_refused"] == blocked()
    # An error answer carries the CORS headers, so the page can read it.
    assert results["error_readable"] == readable(404, "not found\n")
    # Credentials: sent and readable where the policy allows them...
    assert results["credentials_allowed"] == readable(200, {"cookie": cookie})
    assert results["credentials_omitted"] == readable(200, {"cookie": None})
    # ...and unreadable where it does not, though a simple request still reaches the server.
    assert results["credentials_refused"] == blocked()

    # The page on an origin the api does not list can read nothing.
    assert theirs["origin"] == other.url
    assert theirs["results"] == {"simple_get": blocked(), "put_custom": blocked()}

    hits = handler_module(api, "api.api").hits
    from_app = [(m, p, c) for m, p, o, c in hits if o == app.url]
    from_other = [(m, p) for m, p, o, _ in hits if o == other.url]
    assert all(o in (app.url, other.url, None) for _, _, o, _ in hits), hits
    assert ("PATCH", "/api/items/3") not in [(m, p) for m, p, _ in from_app]
    assert ("GET", "/api/items/4") not in [(m, p) for m, p, _ in from_app]
    assert ("GET", "/api/whoami", cookie) in from_app  # sent with the cookie, then hidden
    assert ("GET", "/creds/whoami", cookie) in from_app
    assert ("GET", "/creds/whoami", None) in from_app
    assert from_other == [("GET", "/api/data")]  # the simple GET went out; the PUT never did
