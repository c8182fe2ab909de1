"""The dev endpoints answer loopback clients only unless [dev] allow or key widens it: the
live-reload events (403), the injected script (left out) and the dev error page (a plain
500); a remote client that is let in sees no absolute path above the project root; `gateway
serve` warns when dev features listen on an address others can reach. Remote peers are
simulated through the request's client address; the real server runs on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from gateway.config.load import load_config
from gateway.devaccess import DevAccess, exposed, startup_warning, strip_paths
from gateway.devpage import response as dev_page
from gateway.errors import ConfigError
from gateway.http.headers import Headers
from gateway.livereload import EVENTS_PATH, LiveReload
from gateway.request import Request
from gateway.response import Response
from tests.reload.test_live import FILES, EventStream, live, live_site  # noqa: F401
from tests.support import write_site

KEY = "k3y-for-tests-0123456789"
REMOTE = ("203.0.113.9", 41000)


def request(client=REMOTE, query="", cookie=None, path="/"):
    headers = [("host", "t")] + ([("cookie", cookie)] if cookie else [])
    return Request("GET", path, Headers(headers), query_string=query, client=client)


def html() -> Response:
    return Response(200, b"<html><body>x</body></html>", content_type="text/html")


def test_loopback_clients_are_let_in_and_others_are_not():
    access = DevAccess()
    for host in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", ""):
        assert access.allowed(request((host, 1))), host
    for host in ("203.0.113.9", "10.0.0.5", "::ffff:10.0.0.5", "fd00::2", "not an ip"):
        assert not access.allowed(request((host, 1))), host


def test_allow_networks_and_the_key_widen_it():
    access = DevAccess(allow=["10.0.0.0/8"], key=KEY)
    assert access.allowed(request(("10.1.2.3", 1)))
    assert not access.allowed(request())
    assert access.allowed(request(query=f"gateway_dev_key={KEY}"))
    assert access.allowed(request(cookie=f"other=1; gateway_dev_key={KEY}"))
    assert not access.allowed(request(query="gateway_dev_key=" + KEY[:-1] + "x"))
    assert not access.allowed(request(cookie="gateway_dev_key=nope"))
    assert access.key_cookie(request(query=f"gateway_dev_key={KEY}")) == (
        "set-cookie",
        f"gateway_dev_key={KEY}; Path=/; HttpOnly; SameSite=Strict",
    )
    assert access.key_cookie(request(cookie=f"gateway_dev_key={KEY}")) is None


def test_absolute_paths_are_made_relative_to_the_root_or_elided():
    text = (
        "/srv/site/api/app.py:3: SyntaxError\n"
        '  File "/usr/lib/python3.11/importlib/__init__.py", line 126\n'
        "see http://example.com/a/b/c and ./rel/path"
    )
    assert strip_paths(text, "/srv/site") == (
        "api/app.py:3: SyntaxError\n"
        '  File "…/__init__.py", line 126\n'
        "see http://example.com/a/b/c and ./rel/path"
    )


def test_the_hub_refuses_a_remote_stream_and_injects_no_script_for_it():
    hub = LiveReload()
    refused = hub.open_stream(request())
    assert refused.status == 403 and b"loopback clients only" in refused.body
    assert b"EventSource" not in hub.inject(request(), html()).body
    local = request(("127.0.0.1", 5))
    assert hub.open_stream(local).status == 200
    assert b"EventSource" in hub.inject(local, html()).body


def test_a_remote_client_with_the_key_gets_errors_without_absolute_paths(tmp_path):
    hub = LiveReload()
    hub.access = DevAccess(key=KEY, root=tmp_path)
    keyed = request(cookie=f"gateway_dev_key={KEY}")
    remote = hub.open_stream(keyed).body
    local = hub.open_stream(request(("127.0.0.1", 5))).body
    remote.take(), local.take()  # the hello events
    hub.failed(f"{tmp_path}/api/app.py:1: SyntaxError in /opt/lib/site.py")
    seen_remote, seen_local = remote.take(), local.take()
    assert str(tmp_path).encode() not in seen_remote
    assert "api/app.py:1: SyntaxError in \\u2026/site.py" in seen_remote.decode()  # JSON
    assert str(tmp_path).encode() in seen_local
    page = hub.inject(request(query=f"gateway_dev_key={KEY}"), html())
    assert (
        "set-cookie",
        f"gateway_dev_key={KEY}; Path=/; HttpOnly; SameSite=Strict",
    ) in page.headers


def test_the_dev_error_page_is_for_loopback_and_keyed_clients(tmp_path):
    config = load_config(write_site(tmp_path, f'[dev]\nreload = true\nkey = "{KEY}"\n'))
    try:
        raise ValueError(f"cannot open {tmp_path}/data/x.json")
    except ValueError as exc:
        error = exc
    plain = dev_page(error, request(), config)
    assert plain.status == 500 and plain.body.startswith(b"internal server error")
    assert b"Traceback" not in plain.body and str(tmp_path).encode() not in plain.body
    keyed = dev_page(error, request(cookie=f"gateway_dev_key={KEY}"), config).body
    assert b"ValueError" in keyed and b"data/x.json" in keyed
    assert str(tmp_path).encode() not in keyed
    local = dev_page(error, request(("127.0.0.1", 5)), config).body
    assert str(tmp_path).encode() in local  # this machine's own user sees it all
    assert dev_page(error, request()).body.startswith(b"internal server error")  # no config


def test_dev_key_and_allow_are_checked_in_the_config(tmp_path):
    path = write_site(tmp_path, '[dev]\nkey = "short"\nallow = ["10.0.0.1/8"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = "\n".join(str(issue) for issue in caught.value.issues)
    assert "dev.key: a key of 5 characters is too easy to guess" in text
    assert "dev.allow: '10.0.0.1/8' is not a CIDR" in text


def test_serve_warns_when_dev_features_listen_beyond_loopback(tmp_path):
    config = load_config(write_site(tmp_path, "[dev]\nlive_reload = true\n"))
    assert exposed(["127.0.0.1:8000", "[::1]:1", "localhost:2", "0.0.0.0:80", "[::]:8"]) == [
        "0.0.0.0:80",
        "[::]:8",
    ]
    assert startup_warning(config, ["127.0.0.1:8000"], reload=True) is None
    assert startup_warning(config, ["0.0.0.0:8000"], reload=False) is None  # --no-reload
    warning = startup_warning(config, ["0.0.0.0:8000"], reload=True)
    assert warning is not None and "listening on 0.0.0.0:8000" in warning
    assert "answer loopback clients only" in warning


def test_on_127_0_0_1_the_page_gets_the_script_and_the_stream_answers(live):  # noqa: F811
    page = httpx.get(live.url + "/index.html")
    assert EVENTS_PATH in page.text
    stream = EventStream(live.running.port)
    try:
        head = stream.expect(b"event: hello")
        assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
    finally:
        stream.close()
