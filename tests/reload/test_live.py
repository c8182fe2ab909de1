"""Live reload against a real server: which answers get the client script (and a Content-Length
that follows it), the event stream's reload, css and broken events, a static folder that
vanishes and returns, the reserved /__gateway/ prefix, and streams ended at shutdown."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import time

import httpx
import pytest

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.errors import ConfigError
from gateway.livereload import EVENTS_PATH
from tests.support import connect, wait_for, write_site

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    timeouts = { shutdown = "10s" }

    [dev]
    reload = true
    live_reload = true
    debounce = "20ms"

    [[static]]
    prefix = "/"
    dir = "{dir}"
    precompressed = ["gzip"]

    [[route]]
    path = "/page"
    handler = "api.app:page"

    [[route]]
    path = "/inline-page"
    handler = "api.app:page"
    inline = true

    [[route]]
    path = "/text"
    handler = "api.app:text"
"""

INDEX = "<!doctype html><html><body><h1>hi</h1></body></html>\n"
ZIPPED = "<!doctype html><html><body>zipped</body></html>\n"
FILES = {
    "public/index.html": INDEX,
    "public/bare.html": "<p>no body tag</p>\n",
    "public/style.css": "h1 { color: red }\n",
    "public/zipped.html": ZIPPED,
    "public/zipped.html.gz": gzip.compress(ZIPPED.encode()),
    "api/__init__.py": "",
    "api/app.py": """
        from gateway import Response

        def page(request):
            return Response.html("<html><BODY><p>from a handler</p></BODY></html>")

        def text(request):
            return "</body> in plain text"
    """,
}


def live_site(dir: str = "public") -> str:
    return SITE.replace("{dir}", dir)


class EventStream:
    """A raw GET of the event stream; `expect` reads to a deadline until an event shows up
    after everything matched before."""

    def __init__(self, port: int) -> None:
        self.sock = connect(port, timeout=0.5)
        self.sock.sendall(f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        self.data = b""
        self.seen = 0

    def expect(self, marker: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        start = self.seen
        while (at := self.data.find(marker, start)) < 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {marker!r} within {timeout}s; got {self.data!r}")
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise AssertionError(f"stream ended before {marker!r}; got {self.data!r}")
            self.data += chunk
        end = self.data.find(b"\n\n", at) if marker.startswith(b"event:") else -1
        self.seen = end if end >= 0 else at + len(marker)
        return self.data[start : self.seen]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def live(reloading):
    return reloading(live_site(), FILES)


def test_static_html_gets_the_client_before_body_end(live):
    page = httpx.get(live.url + "/")
    assert page.status_code == 200
    before, _, after = page.text.partition("<script data-gateway-live-reload>")
    assert before == "<!doctype html><html><body><h1>hi</h1>"
    assert after.endswith("</script>\n</body></html>\n")
    assert EVENTS_PATH in after
    assert int(page.headers["content-length"]) == len(page.content)
    assert page.headers["cache-control"] == "no-store"
    assert "etag" not in page.headers and "last-modified" not in page.headers


def test_html_without_a_body_tag_gets_the_client_at_the_end(live):
    page = httpx.get(live.url + "/bare.html")
    assert page.text.startswith("<p>no body tag</p>\n<script data-gateway-live-reload>")
    assert page.text.endswith("</script>\n")
    assert int(page.headers["content-length"]) == len(page.content)


@pytest.mark.parametrize("path", ["/page", "/inline-page"])
def test_handler_html_gets_the_client(live, path):
    page = httpx.get(live.url + path, headers={"accept-encoding": "identity"})  # length as sent
    assert "<p>from a handler</p><script data-gateway-live-reload>" in page.text
    assert page.text.endswith("</script>\n</BODY></html>")
    assert int(page.headers["content-length"]) == len(page.content)


def test_other_answers_are_left_alone(live):
    with httpx.Client(base_url=live.url) as client:
        css = client.get("/style.css")
        assert css.text == "h1 { color: red }\n" and "etag" in css.headers
        assert client.get("/text").text == "</body> in plain text"
        head = client.head("/")
        assert int(head.headers["content-length"]) == len(INDEX)
        assert "etag" in head.headers
        part = client.get("/", headers={"range": "bytes=0-8"})
        assert (part.status_code, part.content) == (206, INDEX[:9].encode())
        same = client.get("/", headers={"if-none-match": head.headers["etag"]})
        assert (same.status_code, same.content) == (304, b"")
        zipped = client.get("/zipped.html", headers={"accept-encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.text == ZIPPED  # httpx decoded the untouched gzip body


def test_without_live_reload_nothing_is_injected_or_reserved(reloading):
    r = reloading(live_site().replace("live_reload = true", "live_reload = false"), FILES)
    assert httpx.get(r.url + "/").text == INDEX
    assert httpx.get(r.url + EVENTS_PATH).status_code == 404


def test_the_stream_sends_reload_css_and_broken_events(live):
    stream = EventStream(live.running.port)
    try:
        head = stream.expect(b"\r\n\r\n")
        assert b"content-type: text/event-stream" in head.lower()
        assert b"cache-control: no-cache" in head.lower()
        assert b'"error": null' in stream.expect(b"event: hello")
        live.write("public/index.html", INDEX.replace("hi", "hello"))
        stream.expect(b"event: reload")
        live.write("public/style.css", "h1 { color: blue }\n")
        assert b'"paths": ["/style.css"]' in stream.expect(b"event: css")
        live.write("gateway.toml", live_site() + "\n[[route]]\npath = '/b'\nhandler = '<b>'\n")
        broken = stream.expect(b"event: broken")
        message = json.loads(broken.split(b"data: ", 1)[1])["message"]
        assert "gateway.toml:32: route[3].handler: '<b>' is not module:function" in message
        live.write("gateway.toml", live_site())
        stream.expect(b"event: reload")
    finally:
        stream.close()


def test_a_new_stream_hears_of_a_broken_build_until_it_is_fixed(live):
    live.write("api/app.py", "def page(:\n")
    wait_for(lambda: live.reloader.failures)
    stream = EventStream(live.running.port)
    try:
        assert b"SyntaxError" in stream.expect(b"event: hello")
        live.write("public/index.html", INDEX.replace("hi", "still broken"))
        stream.expect(b"event: reload")  # the page reloads, and must show the error again
    finally:
        stream.close()
    again = EventStream(live.running.port)
    try:
        assert b"SyntaxError" in again.expect(b"event: hello")
        live.write("api/app.py", FILES["api/app.py"])
        again.expect(b"event: reload")
    finally:
        again.close()
    fixed = EventStream(live.running.port)
    try:
        assert b'"error": null' in fixed.expect(b"event: hello")
    finally:
        fixed.close()


@pytest.mark.parametrize("where", ["inside", "outside"])
def test_a_static_folder_that_vanishes_and_returns_is_still_watched(reloading, tmp_path, where):
    """Inside the site root the root's recursive watch covers it; outside, its own watch is
    re-established when the folder comes back."""
    dir = "public" if where == "inside" else "../assets"
    files = (
        {**FILES}
        if where == "inside"
        else {name: text for name, text in FILES.items() if not name.startswith("public/")}
    )
    folder = tmp_path / "site" / "public" if where == "inside" else tmp_path / "assets"
    for name, text in FILES.items():
        if name.startswith("public/"):
            path = folder / name.removeprefix("public/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
    r = reloading(live_site(dir), files, subdir="site")
    stream = EventStream(r.running.port)
    try:
        stream.expect(b"event: hello")
        shutil.rmtree(folder)
        stream.expect(b"event: reload")
        folder.mkdir()
        (folder / "index.html").write_text(INDEX)
        # The folder's return and an edit soon after may arrive as one batch (a reload);
        # a later stylesheet edit on its own is a css event.
        deadline = time.monotonic() + 10
        for attempt in range(100):
            (folder / "style.css").write_text(f"h1 {{ color: #{attempt:06d} }}\n")
            try:
                stream.expect(b"event: css", timeout=min(0.5, deadline - time.monotonic()))
                break
            except AssertionError:
                assert time.monotonic() < deadline, "edits in the returned folder go unseen"
    finally:
        stream.close()


def test_shutdown_ends_open_streams(live):
    stream = EventStream(live.running.port)
    try:
        stream.expect(b"event: hello")
        started = time.monotonic()
        live.running.server.request_shutdown()
        stream.expect(b"\r\n0\r\n\r\n", timeout=5)
        live.running.thread.join(5)
        assert not live.running.thread.is_alive()
        assert time.monotonic() - started < 5  # not the 10 s shutdown timeout
    finally:
        stream.close()


@pytest.mark.parametrize(
    ("table", "issue"),
    [
        (
            "[[route]]\npath = '/__gateway/x'\nrespond = { status = 204 }",
            "gateway.toml:10: route[0].path: '/__gateway/x' is under '/__gateway/'",
        ),
        (
            "[[route]]\npath = '/__gateway'\nrespond = { status = 204 }",
            "gateway.toml:10: route[0].path: '/__gateway' is under '/__gateway/'",
        ),
        (
            "[[static]]\nprefix = '/__gateway/files'\ndir = '.'",
            "gateway.toml:10: static[0].prefix: '/__gateway/files' is under '/__gateway/'",
        ),
    ],
)
def test_the_reserved_prefix_is_a_config_error_with_live_reload(
    tmp_path, monkeypatch, table, issue
):
    monkeypatch.chdir(tmp_path)
    config = "[dev]\nlive_reload = true\n\n\n\n\n\n\n" + table + "\n"
    path = write_site(tmp_path, config)
    with pytest.raises(ConfigError) as caught:
        build_app(load_config(path))
    [found] = [str(i) for i in caught.value.issues]
    assert found.startswith(issue)
    assert found.endswith(
        "which gateway serves itself while [dev] live_reload is on: choose another path"
    )
    path.write_text(config.replace("live_reload = true", "live_reload = false"))
    build_app(load_config(path)).close()


def test_a_reserved_route_added_by_a_reload_is_refused(live, reload_log):
    live.write(
        "gateway.toml",
        live_site() + "\n[[route]]\npath = '/__gateway/events'\nrespond = { status = 204 }\n",
    )
    wait_for(lambda: live.reloader.failures)
    assert "route[3].path: '/__gateway/events' is under '/__gateway/'" in reload_log.text
    assert httpx.get(live.url + "/page").status_code == 200


def test_raw_socket_head_of_the_event_stream_is_chunked(live):
    with socket.create_connection(("127.0.0.1", live.running.port), timeout=5) as sock:
        sock.sendall(f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        data = b""
        while b"event: hello" not in data:
            data += sock.recv(4096)
    assert b"transfer-encoding: chunked" in data.lower()
    assert b"retry: 500\n" in data


def test_a_burst_of_events_is_coalesced_and_the_watcher_survives(live):
    stream = EventStream(live.running.port)
    try:
        stream.expect(b"event: hello")
        burst = live.root / "public" / "burst"
        burst.mkdir()
        for i in range(300):
            (burst / f"{i}.html").write_text(f"<p>{i}</p>")
        shutil.rmtree(burst)
        live.write("public/style.css", "h1 { color: green }\n")
        # The stylesheet edit may have joined the burst's last batch (then it is a reload);
        # either way the events after the burst are few, and the watcher still answers.
        deadline = time.monotonic() + 10
        for attempt in range(100):
            try:
                stream.expect(b"event: css", timeout=min(0.5, deadline - time.monotonic()))
                break
            except AssertionError:
                assert time.monotonic() < deadline, "the watcher stopped after a burst"
                live.write("public/style.css", f"h1 {{ color: #{attempt:06d} }}\n")
        assert stream.data.count(b"event: reload") <= 4
        assert live.reloader.rebuilds == 0
    finally:
        stream.close()
