"""What the reload log says: the change summary for a respond edit, a listen change, a module
broken for several routes reported once with its source line (in the log and the browser
overlay), included files watched, and a reload requested without any edit (SIGHUP)."""

from __future__ import annotations

import logging
import socket

import httpx

from tests.reload.conftest import settle
from tests.support import wait_for

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [dev]
    reload = true
    debounce = "20ms"

    [[route]]
    path = "/one"
    handler = "api.app:hello"

    [[route]]
    path = "/two"
    handler = "api.app:hello"

    [[route]]
    path = "/three"
    handler = "api.app:hello"

    [[route]]
    path = "/fixed"
    respond = { body = "v1" }
"""

FILES = {"api/__init__.py": "", "api/app.py": "def hello(request):\n    return 'hi'\n"}


def reloaded(log) -> list[str]:
    return [m for m in log.messages if m.startswith("reloaded gateway.toml in ")]


def test_a_respond_body_edit_is_named_in_the_reload_line(reloading, reload_log):
    r = reloading(SITE, FILES)
    r.write("gateway.toml", SITE.replace('"v1"', '"v2"'))
    wait_for(lambda: httpx.get(r.url + "/fixed").text == "v2")
    wait_for(lambda: reloaded(reload_log))
    assert "(routes: +0 -0 ~1 (~/fixed)) after gateway.toml changed" in reloaded(reload_log)[0]


def test_a_listen_change_is_reported(reloading, reload_log):
    r = reloading(SITE, FILES)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    r.write("gateway.toml", SITE.replace('"127.0.0.1:0"', f'"127.0.0.1:{port}"'))
    wait_for(lambda: f"listen changed: now listening on 127.0.0.1:{port}" in reload_log.messages)
    assert "server: listen" in reloaded(reload_log)[0]


def test_a_module_broken_for_three_routes_is_reported_once_with_its_line(reloading, reload_log):
    r = reloading(SITE, FILES)
    r.write("api/app.py", "def hello(request):\n    return 'hi' +\n")
    settle(r.reloader, 0, "failures")
    [error] = [rec.getMessage() for rec in reload_log.records if rec.levelno == logging.ERROR]
    assert error.count("importing 'api.app' failed") == 1
    assert (
        "  gateway.toml:12: route[0].handler: importing 'api.app' failed: "
        "api/app.py:2: SyntaxError: invalid syntax "
        "(also used by route[1].handler at gateway.toml:16, route[2].handler at gateway.toml:20)\n"
        "    return 'hi' +\n"
        "                ^"
    ) in error
    # The browser overlay shows the same text.
    wait_for(lambda: r.reloader.live.error)
    assert r.reloader.live.error == error.split("previous app:\n", 1)[1]


def test_a_deleted_module_is_reported_once(reloading, reload_log):
    r = reloading(SITE, FILES)
    (r.root / "api/app.py").unlink()
    settle(r.reloader, 0, "failures")
    [error] = [rec.getMessage() for rec in reload_log.records if rec.levelno == logging.ERROR]
    assert error.count("module 'api.app' not found") == 1
    assert "(also used by route[1].handler at gateway.toml:16, route[2].handler" in error


def test_included_files_are_watched_and_new_ones_picked_up(reloading):
    config = 'include = ["routes/*.toml"]\n' + SITE
    files = {**FILES, "routes/a.toml": '[[route]]\npath = "/a"\nrespond = { body = "a1" }\n'}
    r = reloading(config, files)
    assert httpx.get(r.url + "/a").text == "a1"
    r.write("routes/a.toml", '[[route]]\npath = "/a"\nrespond = { body = "a2" }\n')
    wait_for(lambda: httpx.get(r.url + "/a").text == "a2")
    r.write("routes/b.toml", '[[route]]\npath = "/b"\nrespond = { body = "b" }\n', "replace")
    wait_for(lambda: httpx.get(r.url + "/b").text == "b")


def test_a_requested_reload_rebuilds_without_an_edit(reloading, reload_log):
    r = reloading(SITE, FILES)
    r.reloader.request_reload()
    wait_for(lambda: reloaded(reload_log))
    assert reloaded(reload_log)[0].endswith("(routes: +0 -0 ~0) on request")
    assert r.reloader.rebuilds == 1


def test_without_watching_only_a_request_reloads(tmp_path, monkeypatch, reload_log):
    """Production SIGHUP: Reloader(watch=False) rebuilds on request and never on its own."""
    from gateway.reload import Reloader
    from tests.support import running_server, write_site

    monkeypatch.chdir(tmp_path)
    config = write_site(tmp_path, SITE, FILES)
    with running_server(config) as running:
        reloader = Reloader(config, running.server, watch=False)
        reloader.start()
        try:
            wait_for(lambda: reloader.checks)
            config.write_text(config.read_text().replace('"v1"', '"v2"'))
            reloader.request_reload()  # a marker through the queue, as a save's report is
            wait_for(lambda: httpx.get(running.url + "/fixed").text == "v2")
            assert reloader._watcher is None and running.server.app.live is None
            assert reloaded(reload_log)[0].endswith(
                "(routes: +0 -0 ~1 (~/fixed)) after gateway.toml changed"
            )
        finally:
            reloader.stop()
