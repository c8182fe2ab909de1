"""Development mode ([dev] reload or live_reload on): every static response says
`Cache-Control: no-cache` unless a `cache` rule says otherwise, so a browser never runs a
stale copy of an edited file (issue 9, "Stale JavaScript after a live reload"). Over HTTP,
and in headless Chromium: a page whose script changes on disk runs the new script."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from tests.browser import headless, needs_chromium
from tests.support import running_server, wait_for, write_site

MOUNT = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    {dev}
    [[static]]
    prefix = "/"
    dir = "public"
    cache = [ {{ match = "assets/**", control = "public, max-age=31536000, immutable" }} ]
"""

FILES = {
    "public/index.html": "<!doctype html><title>t</title>",
    "public/app.js": "window.VERSION = 1;\n",
    "public/style.css": "h1{}\n",
    "public/assets/v1.js": "// versioned\n",
}


def site(tmp_path: Path, dev: str) -> Path:
    return write_site(tmp_path / "site", MOUNT.format(dev=dev), FILES)


@pytest.mark.parametrize("dev", ["[dev]\nreload = true", "[dev]\nlive_reload = true"])
def test_development_mode_says_no_cache_for_every_file(tmp_path, dev) -> None:
    with running_server(site(tmp_path, dev)) as running, httpx.Client() as client:
        for path in ("/app.js", "/style.css", "/", "/index.html"):
            response = client.get(running.url + path)
            assert response.status_code == 200
            assert response.headers["cache-control"] == "no-cache", path
            # A revalidation is answered 304 with the same instruction.
            again = client.get(
                running.url + path, headers={"if-none-match": response.headers["etag"]}
            )
            assert again.status_code == 304
            assert again.headers["cache-control"] == "no-cache", path
        # A rule the site wrote still wins: versioned assets stay immutable.
        versioned = client.get(running.url + "/assets/v1.js")
        assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_without_development_mode_only_html_is_no_cache(tmp_path) -> None:
    with running_server(site(tmp_path, "[dev]\nreload = false")) as running:
        assert "cache-control" not in httpx.get(running.url + "/app.js").headers
        assert httpx.get(running.url + "/").headers["cache-control"] == "no-cache"


# -- in the browser ------------------------------------------------------------------------

BROWSER_SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [dev]
    live_reload = true
    reload = true

    [[static]]
    prefix = "/"
    dir = "public"

    [[route]]
    path = "/report"
    methods = ["POST"]
    handler = "api.report:report"
"""

# Reports which version of app.js ran, then reloads, as the live-reload script does.
PAGE = """<!doctype html>
<html><head><script src="/app.js"></script></head><body>
<script>
  fetch("/report", {method: "POST", body: JSON.stringify({version: window.VERSION})})
    .then(() => setTimeout(() => location.reload(), 100));
</script>
</body></html>
"""

REPORT = """
def report(request):
    with open({path!r}, "ab") as file:
        file.write(request.body + b"\\n")
"""


def versions(log: Path) -> list[object]:
    if not log.exists():
        return []
    return [json.loads(line)["version"] for line in log.read_text().splitlines() if line]


@needs_chromium
def test_the_browser_runs_the_edited_script_after_a_reload(tmp_path) -> None:
    log = tmp_path / "reports.jsonl"
    config = write_site(
        tmp_path / "site",
        BROWSER_SITE,
        {
            "public/index.html": PAGE,
            "public/app.js": "window.VERSION = 1;\n",
            "api/__init__.py": "",
            "api/report.py": REPORT.format(path=str(log)),
        },
    )
    # A script last edited yesterday: without Cache-Control a browser may reuse it for
    # hours (heuristic freshness, RFC 9111 §4.2.2: a tenth of its age).
    yesterday = time.time() - 86_400
    os.utime(config.parent / "public/app.js", (yesterday, yesterday))
    with running_server(config) as running, headless(running.url + "/", tmp_path / "profile"):
        wait_for(lambda: versions(log).count(1) >= 2, timeout=15)  # loaded, then reloaded
        (config.parent / "public/app.js").write_text("window.VERSION = 2;\n")
        wait_for(lambda: 2 in versions(log), timeout=10)
