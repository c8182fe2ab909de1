"""Rebuilds against a real server: a new route or new handler code is served after a save
(in place or by rename), a broken save keeps the old app and logs one error block, an edit
that changes no bytes is skipped, and poll mode, listen changes and error pages work."""

from __future__ import annotations

import logging
import socket
import textwrap

import httpx
import pytest

from tests.reload.conftest import settle
from tests.support import wait_for

BASE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [dev]
    reload = true
    debounce = "20ms"
    {dev}

    [[route]]
    path = "/hello"
    handler = "api.app:hello"
"""

FILES = {
    "api/__init__.py": "",
    "api/app.py": """
        def hello(request):
            return "v1"

        def other(request):
            return "other"
    """,
}

NEW_ROUTE = """
    [[route]]
    path = "/other"
    handler = "api.app:other"
"""


def site(dev: str = "") -> str:
    return BASE.replace("{dev}", dev)


def body(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


@pytest.mark.parametrize("how", ["inplace", "replace"])
def test_a_new_route_is_served_after_a_save(reloading, reload_log, how):
    r = reloading(site(), FILES)
    assert httpx.get(r.url + "/other").status_code == 404
    r.write("gateway.toml", site() + NEW_ROUTE, how)
    wait_for(lambda: body(r.url + "/other") == "other")
    assert body(r.url + "/hello") == "v1"
    reloaded = [m for m in reload_log.messages if m.startswith("reloaded gateway.toml in ")]
    assert len(reloaded) == 1
    assert "(routes: +1 -0 ~0 (+/other)) after gateway.toml changed" in reloaded[0]


@pytest.mark.parametrize("how", ["inplace", "replace"])
def test_new_handler_code_runs_after_a_save(reloading, how):
    r = reloading(site(), FILES)
    assert body(r.url + "/hello") == "v1"
    for version in ("v2", "v3"):  # same size, same second: stale bytecode must not win
        code = (r.root / "api/app.py").read_text().replace('"v1"', f'"{version}"')
        r.write("api/app.py", code.replace('"v2"', f'"{version}"'), how)
        wait_for(lambda v=version: body(r.url + "/hello") == v)


def test_a_toml_syntax_error_keeps_the_old_app_then_recovers(reloading, reload_log):
    r = reloading(site(), FILES)
    before = r.reloader.failures
    r.write("gateway.toml", site() + '\n[[route]]\npath = "/other\n')
    settle(r.reloader, before, "failures")
    assert body(r.url + "/hello") == "v1"
    errors = [rec for rec in reload_log.records if rec.levelno == logging.ERROR]
    assert len(errors) == 1
    text = errors[0].getMessage()
    assert text.startswith("reload of gateway.toml failed; still serving the previous app:\n")
    assert "gateway.toml:16: invalid toml: " in text
    r.write("gateway.toml", site() + NEW_ROUTE)
    wait_for(lambda: body(r.url + "/other") == "other")


def test_a_handler_syntax_error_keeps_the_old_app_then_recovers(reloading, reload_log):
    r = reloading(site(), FILES)
    before = r.reloader.failures
    r.write("api/app.py", "def hello(request):\n    return 'v2\n")
    settle(r.reloader, before, "failures")
    assert body(r.url + "/hello") == "v1"
    [error] = [rec.getMessage() for rec in reload_log.records if rec.levelno == logging.ERROR]
    assert "gateway.toml:13: route[0].handler: importing 'api.app' failed: " in error
    assert "api/app.py:2: SyntaxError: " in error
    r.write("api/app.py", "def hello(request):\n    return 'v2'\n")
    wait_for(lambda: body(r.url + "/hello") == "v2")


def test_a_validation_error_lists_every_issue_with_its_line(reloading, reload_log):
    r = reloading(site(), FILES)
    before = r.reloader.failures
    broken = site().replace('access_log = "off"', 'access_log = "loud"') + (
        '\n[[route]]\npath = "/x"\nhandler = "api.app:nope"\n'
    )
    r.write("gateway.toml", broken)
    settle(r.reloader, before, "failures")
    [error] = [rec.getMessage() for rec in reload_log.records if rec.levelno == logging.ERROR]
    assert "gateway.toml:4: server.access_log: " in error
    assert "gateway.toml:17: route[1].handler: module 'api.app' has no function 'nope'" in error
    assert body(r.url + "/hello") == "v1"


def test_touching_or_rewriting_the_same_bytes_is_skipped(reloading, reload_log):
    r = reloading(site(), FILES)
    for name in ("gateway.toml", "api/app.py"):
        path = r.root / name
        path.touch()  # no content event at all: nothing even to skip
        before = r.reloader.skipped
        path.write_bytes(path.read_bytes())
        settle(r.reloader, before)
    assert r.reloader.rebuilds == 0
    assert not [m for m in reload_log.messages if m.startswith("reloaded")]


def test_an_unchanged_broken_save_is_not_reported_twice(reloading, reload_log):
    r = reloading(site(), FILES)
    r.write("api/app.py", "def hello(:\n")
    settle(r.reloader, 0, "failures")
    before = r.reloader.skipped
    path = r.root / "api/app.py"
    path.write_bytes(path.read_bytes())
    settle(r.reloader, before)
    assert r.reloader.failures == 1


def test_an_error_page_edit_rebuilds(reloading):
    config = site() + '\n[errors]\n404 = "404.html"\n'
    r = reloading(config, {**FILES, "404.html": "<p>gone</p>"})
    assert httpx.get(r.url + "/nope").text == "<p>gone</p>"
    r.write("404.html", "<p>gone for good</p>")
    wait_for(lambda: httpx.get(r.url + "/nope").text == "<p>gone for good</p>")


def test_poll_mode_sees_edits(reloading):
    r = reloading(site('watch = "poll"'), FILES)
    assert r.reloader._watcher is not None and r.reloader._watcher.poll
    r.write("gateway.toml", site('watch = "poll"') + NEW_ROUTE, "replace")
    wait_for(lambda: body(r.url + "/other") == "other")
    r.write("api/app.py", (r.root / "api/app.py").read_text().replace("v1", "v2"))
    wait_for(lambda: body(r.url + "/hello") == "v2")


def test_a_listen_change_opens_the_new_address(reloading):
    r = reloading(site(), FILES)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    r.write("gateway.toml", site().replace('"127.0.0.1:0"', f'"127.0.0.1:{port}"'))
    wait_for(lambda: body(f"http://127.0.0.1:{port}/hello") == "v1")


def test_a_deleted_config_keeps_serving_and_a_new_one_is_picked_up(reloading, reload_log):
    r = reloading(site(), FILES)
    text = (r.root / "gateway.toml").read_text()
    (r.root / "gateway.toml").unlink()
    # The log line, not the counter: poll for what is asserted, so load cannot reorder them.
    wait_for(lambda: "gateway.toml: cannot read: No such file or directory" in reload_log.text)
    assert r.reloader.failures >= 1
    assert body(r.url + "/hello") == "v1"
    r.write("gateway.toml", text + NEW_ROUTE)
    wait_for(lambda: body(r.url + "/other") == "other")


def test_a_config_behind_a_swapped_symlink_is_reloaded(tmp_path, reloading):
    """Kubernetes ConfigMaps: gateway.toml -> ..data/gateway.toml, ..data -> ..v1; an
    update writes ..v2 and renames a new ..data link over the old one."""
    from tests.reload.conftest import reloading_server

    del reloading
    (tmp_path / "api").mkdir()
    (tmp_path / "api/__init__.py").write_text("")
    (tmp_path / "api/app.py").write_text(
        'def hello(r):\n    return "v1"\n\ndef other(r):\n    return "other"\n'
    )
    import os
    import textwrap

    def version(name: str, text: str) -> None:
        (tmp_path / name).mkdir()
        (tmp_path / name / "gateway.toml").write_text(
            textwrap.dedent(text).replace("[server]", f'[server]\nroot = "{tmp_path}"')
        )

    version("..v1", site())
    os.symlink("..v1", tmp_path / "..data")
    os.symlink("..data/gateway.toml", tmp_path / "gateway.toml")
    with reloading_server(tmp_path / "gateway.toml") as r:
        assert body(r.url + "/other") is None
        version("..v2", site() + NEW_ROUTE)
        os.symlink("..v2", tmp_path / "..data_tmp")
        os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
        wait_for(lambda: body(r.url + "/other") == "other")


def test_edits_made_while_the_server_starts_are_not_lost(tmp_path, monkeypatch):
    """The app is built, then the config and a module change, then the reloader starts:
    its baseline is what the app was built from, so both edits are picked up."""
    from gateway.reload import Reloader
    from tests.support import running_server, write_site

    monkeypatch.chdir(tmp_path)
    config = write_site(tmp_path, site(), FILES)
    with running_server(config) as running:
        config.write_text(textwrap.dedent(site() + NEW_ROUTE))
        (tmp_path / "api/app.py").write_text(
            'def hello(r):\n    return "v2"\n\ndef other(r):\n    return "other"\n'
        )
        reloader = Reloader(config, running.server)
        reloader.start()
        try:
            wait_for(lambda: body(running.url + "/other") == "other")
            wait_for(lambda: body(running.url + "/hello") == "v2")
        finally:
            reloader.stop()


def test_the_failure_count_moves_only_after_the_error_is_logged(reloading, monkeypatch):
    """What made the deleted-config test flaky: a reader who saw `failures` move could look
    at the log before the error line was in it."""
    from gateway.reload import reloader as module

    r = reloading(site(), FILES)
    seen: list[int] = []
    real = module.log.error

    def error(*args: object) -> None:
        seen.append(r.reloader.failures)
        real(*args)

    monkeypatch.setattr(module.log, "error", error)
    (r.root / "gateway.toml").unlink()
    wait_for(lambda: r.reloader.failures)
    assert seen == [0]
