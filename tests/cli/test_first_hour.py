"""Issue 9's command-line bullets: every bad argument is one line and exit status 2;
`gateway check` counts in words the docs show; `gateway routes` lists methods one way and
labels mounts as docs/quickstart.md does; the startup line says whether reload and live
reload are on; Ctrl-C stops an idle server at once (whichever thread the signal lands
on) and says so, after letting requests in flight finish; `--reload` over `[dev] reload =
false` gives static files no-cache, also after a rebuild."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from gateway.app import build_app
from gateway.cli import main
from gateway.cli_args import counted
from gateway.config.load import load_config
from gateway.server.run import serve_single
from gateway.server.serve import Server
from tests.support import wait_for, write_site

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = (REPO / "docs" / "quickstart.md").read_text()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_site(
        tmp_path,
        """
        [[static]]
        prefix = "/"
        dir = "public"

        [[route]]
        path = "/api/slow"
        handler = "api:slow"
        """,
        {
            "public/index.html": "home",
            "public/app.js": "run()",
            "api.py": """
                import pathlib, time
                HERE = pathlib.Path(__file__).parent
                def slow(request):
                    (HERE / "started").write_text("x")
                    deadline = time.monotonic() + 20
                    while not (HERE / "release").exists() and time.monotonic() < deadline:
                        time.sleep(0.01)
                    return "done"
                """,
        },
    )


@pytest.mark.parametrize(
    "args, shown",
    [
        (["serve", "--listen", "20303"], "argument --listen: '20303' is not host:port"),
        (["serve", "--listen", "127.0.0.1:70000"], "has port 70000: ports go from 0 to 65535"),
        (["serve", "--workers", "0"], "argument --workers: 0 workers: give 1 or more"),
        (["serve", "--workers", "two"], "argument --workers: 'two' is not a number"),
        (["routes", "--jsn"], "unrecognized arguments: --jsn"),
    ],
)
def test_a_bad_argument_is_one_line_and_status_2(site, capsys, args, shown) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--config", str(site)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and shown in err and "Traceback" not in err, err


def test_a_config_that_is_a_folder_is_one_line(tmp_path, capsys) -> None:
    assert main(["check", "--config", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"{tmp_path}: cannot read: Is a directory\n"


def test_check_counts_in_words_with_plurals(tmp_path, capsys) -> None:
    config = write_site(tmp_path, '[[route]]\npath = "/a"\nrespond = { status = 204 }\n')
    assert main(["check", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"{config}: ok (1 route)\n"
    with config.open("a") as file:
        file.write('[[route]]\npath = "/b"\nrespond = { status = 204 }\n')
        file.write('[[static]]\nprefix = "/"\ndir = "."\n')
    assert main(["check", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"{config}: ok (2 routes and 1 mount)\n"


def test_check_says_what_the_docs_show(monkeypatch, capsys) -> None:
    shown = re.search(r"\$ \.venv/bin/gateway check\n(gateway\.toml: ok .*)\n", QUICKSTART)
    assert shown, "docs/quickstart.md shows gateway check's ok line"
    monkeypatch.chdir(REPO)
    config = load_config("gateway.toml")  # the quickstart has added two routes by then
    config = dataclasses.replace(config, routes=(*config.routes, *config.routes[:2]))
    assert shown.group(1) == f"gateway.toml: ok ({counted(config)})"
    assert main(["check"]) == 0
    assert re.fullmatch(r"gateway\.toml: ok \(\d+ routes and 1 mount\)\n", capsys.readouterr().out)


def test_routes_lists_methods_one_way_and_mounts_as_the_docs_do(monkeypatch, capsys) -> None:
    monkeypatch.chdir(REPO)
    assert main(["routes"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    block = QUICKSTART.split("$ .venv/bin/gateway routes\n")[1].split("```")[0]
    documented = [line.split() for line in block.splitlines() if line != "..."]
    for row in documented:
        if "/api/users/{id:int}" not in row:  # the route the quickstart adds
            assert row in rows, (row, rows)
    methods = {row[2]: row[1] for row in rows[1:]}
    assert methods["/api/status"] == methods["/**"] == "GET,HEAD"  # a GET route answers HEAD
    assert methods["/api/notes"] in ("GET,HEAD", "POST")


@contextmanager
def gateway(site: Path, *flags: str) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """`gateway serve` on 127.0.0.1:0: the process, its first line and its URL."""
    argv = [sys.executable, "-m", "gateway", "serve", "-c", str(site), "--listen", "127.0.0.1:0"]
    process = subprocess.Popen(
        [*argv, *flags],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert found, line
        yield process, line, found.group(1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_startup_line_says_whether_reload_and_live_reload_are_on(site) -> None:
    with gateway(site, "--no-reload") as (_, line, _):
        assert line.endswith(" (reload off, live reload off)\n"), line
    with gateway(site, "--reload") as (_, line, _):
        assert line.endswith(" (reload on, live reload off)\n"), line
    with site.open("a") as file:
        file.write("[dev]\nlive_reload = true\n")
    with gateway(site) as (_, line, _):
        assert line.endswith(" (reload on, live reload on)\n"), line
    with gateway(site, "--no-reload") as (_, line, _):
        assert line.endswith(" (reload off, live reload off)\n"), line


def test_ctrl_c_while_a_request_is_in_flight_lets_it_finish_then_says_stopped(site) -> None:
    with gateway(site, "--no-reload") as (process, _, url):
        answers: list[httpx.Response] = []
        asking = threading.Thread(target=lambda: answers.append(httpx.get(url + "api/slow")))
        asking.start()
        wait_for(lambda: (site.parent / "started").exists())
        process.send_signal(signal.SIGINT)
        (site.parent / "release").write_text("go")
        asking.join(15)
        assert [(a.status_code, a.text) for a in answers] == [(200, "done")]
        assert process.wait(timeout=15) == 0
        assert process.stderr is not None
        assert process.stderr.read().splitlines()[-1] == "gateway stopped"


def test_ctrl_c_on_an_idle_server_stops_at_once_whichever_thread_it_lands_on(
    site, monkeypatch, capsys
) -> None:
    """The signal is sent to another thread (as macOS may do): the main thread sits in
    select with no tick due for an hour, so only the signal wake-up fd can end it."""
    monkeypatch.setattr(Server, "_tick_interval", staticmethod(lambda timeouts: 3600.0))
    servers: list[Server] = []
    real = Server.serve_forever

    def serve_forever(self: Server) -> None:
        servers.append(self)
        real(self)

    monkeypatch.setattr(Server, "serve_forever", serve_forever)
    stuck: list[bool] = []

    def press_ctrl_c() -> None:
        wait_for(lambda: servers and servers[0].loop.running)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # this thread, not main
        try:
            wait_for(lambda: not servers[0].loop.running, timeout=5)
        except AssertionError:
            stuck.append(True)
            servers[0].request_shutdown()

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    pressing = threading.Thread(target=press_ctrl_c)
    pressing.start()
    try:
        app = build_app(load_config(site))
        assert serve_single(str(site), app, ["127.0.0.1:0"], reload=False) == 0
    finally:
        pressing.join(15)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert not stuck, "the server slept through Ctrl-C"
    assert capsys.readouterr().err.splitlines()[-1] == "gateway stopped"


def test_reload_flag_over_dev_reload_false_gives_static_no_cache_after_rebuilds(site) -> None:
    with site.open("a") as file:
        file.write("[dev]\nreload = false\n")
    with gateway(site, "--reload") as (_, _, url):
        assert httpx.get(url + "app.js").headers.get("cache-control") == "no-cache"
        with site.open("a") as file:  # a rebuild reads the file again: reload is still on
            file.write('[[route]]\npath = "/new"\nrespond = { status = 200, body = "new" }\n')
        wait_for(lambda: httpx.get(url + "new").status_code == 200)
        assert httpx.get(url + "app.js").headers.get("cache-control") == "no-cache"


def test_docs_show_paths_relative_to_the_project() -> None:
    """No path from an author's machine in the docs (the quickstart once showed one)."""
    machine = re.compile(r"(?<![\w.])/(home|Users|root|work|tmp/pytest-of-\w+)/")
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            assert not machine.search(line), f"{page.name}:{number}: {line}"
