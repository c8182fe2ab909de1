"""Live reload in headless Chromium: the page reports its load time and its heading's colour
to a handler; a stylesheet edit changes the colour without a reload, an HTML edit reloads
the page. Skipped when Chromium is not installed."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.reload import Reloader
from gateway.server.serve import Server
from tests.browser import headless, needs_chromium
from tests.support import wait_for, write_site

pytestmark = needs_chromium

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [dev]
    reload = true
    live_reload = true
    debounce = "20ms"

    [[static]]
    prefix = "/"
    dir = "public"

    [[route]]
    path = "/report"
    methods = ["POST"]
    handler = "api.report:report"
"""

PAGE = """<!doctype html>
<html><head><link rel="stylesheet" href="/style.css"></head>
<body><h1 id="title">{title}</h1>
<script>
  const origin = performance.timeOrigin;
  let last = "";
  setInterval(() => {{
    const title = document.getElementById("title");
    const state = JSON.stringify({{origin, text: title.textContent,
                                   color: getComputedStyle(title).color}});
    if (state !== last) {{
      last = state;
      fetch("/report", {{method: "POST", body: state}});
    }}
  }}, 50);
</script>
</body></html>
"""

REPORT = """
    def report(request):
        with open({path!r}, "ab") as file:
            file.write(request.body + b"\\n")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reports(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """open_page(url): headless Chromium on `url` until the test ends."""
    with ExitStack() as stack:

        def open_page(url: str) -> None:
            stack.enter_context(headless(url, tmp_path / "profile"))

        yield open_page


def test_a_page_restyles_on_css_edits_and_reloads_on_html_edits(reloading, chromium, tmp_path):
    log = tmp_path / "reports.jsonl"
    r = reloading(
        SITE,
        {
            "public/index.html": PAGE.format(title="first"),
            "public/style.css": "h1 { color: rgb(255, 0, 0) }\n",
            "api/__init__.py": "",
            "api/report.py": REPORT.format(path=str(log)),
        },
        subdir="site",
    )
    chromium(r.url + "/")

    def seen(**want: object) -> dict[str, object] | None:
        for found in reports(log):
            if all(found[key] == value for key, value in want.items()):
                return found
        return None

    first = wait_for(lambda: seen(text="first", color="rgb(255, 0, 0)"), timeout=15)
    r.write("public/style.css", "h1 { color: rgb(0, 0, 255) }\n")
    restyled = wait_for(lambda: seen(color="rgb(0, 0, 255)"))
    assert restyled["origin"] == first["origin"]  # the same page: no reload
    r.write("public/index.html", PAGE.format(title="second"))
    reloaded = wait_for(lambda: seen(text="second"))
    assert reloaded["origin"] != first["origin"]
    assert reloaded["color"] == "rgb(0, 0, 255)"


@contextmanager
def serving_at(config: Path, port: int) -> Iterator[None]:
    """A server with a reloader on a fixed port (a restart must come back where it was)."""
    server = Server(build_app(load_config(config)), listen=[f"127.0.0.1:{port}"])
    server.listen([f"127.0.0.1:{port}"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    wait_for(lambda: server.loop.running)
    reloader = Reloader(config, server)
    reloader.start()
    try:
        yield
    finally:
        reloader.stop()
        server.request_shutdown()
        thread.join(15)
        assert not thread.is_alive()


def test_a_page_reloads_when_the_server_comes_back(tmp_path, chromium, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "reports.jsonl"
    config = write_site(
        tmp_path / "site",
        SITE,
        {
            "public/index.html": PAGE.format(title="before"),
            "public/style.css": "",
            "api/__init__.py": "",
            "api/report.py": REPORT.format(path=str(log)),
        },
    )
    port = free_port()
    with serving_at(config, port):
        chromium(f"http://127.0.0.1:{port}/")
        first = wait_for(lambda: [r for r in reports(log) if r["text"] == "before"], timeout=15)
    # Down: the page's event stream ended; the file changes while nobody watches it.
    (tmp_path / "site/public/index.html").write_text(PAGE.format(title="after"))
    with serving_at(config, port):
        again = wait_for(lambda: [r for r in reports(log) if r["text"] == "after"])
    assert again[0]["origin"] != first[0]["origin"]
