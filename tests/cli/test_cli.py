"""The gateway command: check (exit 0, or 1 with every error as file:line), routes (table
and --json), init (a starter site that serves at once), serve (prints its URL, answers,
and exits 0 on SIGTERM), --version."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from gateway import __version__
from gateway.cli import main
from tests.support import running_server, wait_for

REPO = Path(__file__).resolve().parents[2]


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == f"gateway {__version__}"


def test_check_ok_on_the_demo(capsys):
    assert main(["check", "--config", str(REPO / "gateway.toml")]) == 0
    assert "ok" in capsys.readouterr().out


def test_check_reports_every_error_with_file_and_line(tmp_path, capsys):
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "users.py").write_text("def get_user(request):\n    return {}\n")
    config = tmp_path / "gateway.toml"
    config.write_text(
        textwrap.dedent("""\
        [server]
        listne = ["127.0.0.1:8000"]

        [[route]]
        path = "/users/{id:int}"
        handler = "api.users:get_usr"

        [[route]]
        path = "/a"
        handler = "api.nope:x"
    """)
    )
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert re.search(
        r"gateway.toml:2: server.listne: unknown key 'listne' \(did you mean 'listen'\?\)", err
    )
    assert re.search(
        r"gateway.toml:6: route\[0\].handler: module 'api.users' has no function "
        r"'get_usr' \(did you mean 'get_user'\?\)",
        err,
    )
    assert re.search(r"gateway.toml:10: route\[1\].handler: module 'api.nope' not found", err)
    assert "3 errors" in err


def test_check_reports_handler_syntax_error_with_its_line(tmp_path, capsys):
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "broken.py").write_text("x = 1\ndef f(:\n")
    config = tmp_path / "gateway.toml"
    config.write_text('[[route]]\npath = "/b"\nhandler = "api.broken:f"\n')
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert (
        "gateway.toml:3: route[0].handler: importing 'api.broken' failed: api/broken.py:2: SyntaxError"
        in err
    )


def test_check_reports_conflicting_routes(tmp_path, capsys):
    (tmp_path / "gateway.toml").write_text(
        textwrap.dedent("""\
        [[route]]
        path = "/x/{id}"
        respond = { status = 200, body = "a" }

        [[route]]
        path = "/x/{name}"
        respond = { status = 200, body = "b" }
    """)
    )
    assert main(["check", "--config", str(tmp_path / "gateway.toml")]) == 1
    err = capsys.readouterr().err
    assert "gateway.toml:5" in err and "route[0]" in err


def test_routes_table_and_json(capsys):
    assert main(["routes", "--config", str(REPO / "gateway.toml")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["HOST", "METHODS", "PATTERN", "TARGET", "CORS"]
    assert any(
        "/api/hello/{name}" in line and "api.status:hello (inline)" in line for line in lines
    )
    assert main(["routes", "--json", "--config", str(REPO / "gateway.toml")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {
        "host": "*",
        "methods": "GET,HEAD",  # as mounts list theirs: a GET route answers HEAD
        "pattern": "/api/status",
        "target": "api.status:status",
        "cors": "-",
    } in rows


def test_init_writes_a_site_that_serves(tmp_path, capsys):
    site = tmp_path / "mysite"
    assert main(["init", str(site)]) == 0
    assert (site / "gateway.toml").exists()
    assert main(["init", str(site)]) == 1  # never overwrites
    with running_server(site / "gateway.toml") as running:
        page = httpx.get(running.url + "/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert httpx.get(running.url + "/api/hello").json() == {"message": "hello from gateway"}


SERVE_FLAGS = ("--listen", "127.0.0.1:0", "--no-reload")


@contextmanager
def serving(config: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`gateway serve` as a subprocess on 127.0.0.1:0; yields it and the URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), *SERVE_FLAGS, *extra],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert match, line
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_prints_url_serves_and_exits_zero_on_sigterm(tmp_path):
    site = tmp_path / "s"
    assert main(["init", str(site)]) == 0
    with serving(site / "gateway.toml") as (process, url):
        assert httpx.get(url + "api/hello").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_prefork_workers_share_the_port(tmp_path):
    site = tmp_path / "s"
    assert main(["init", str(site)]) == 0
    (site / "api" / "pid.py").write_text(
        "import os\ndef pid(request):\n    return {'pid': os.getpid()}\n"
    )
    config = site / "gateway.toml"
    config.write_text(config.read_text() + '\n[[route]]\npath = "/pid"\nhandler = "api.pid:pid"\n')
    with serving(config, "--workers", "2") as (process, url):
        pids: set[int] = set()

        def both_workers_answered() -> bool:
            try:
                with httpx.Client() as client:  # a new connection each time spreads the load
                    pids.add(client.get(url + "pid").json()["pid"])
            except httpx.TransportError:
                pass
            return len(pids) == 2

        wait_for(both_workers_answered, timeout=20)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_running_out_of_file_descriptors_is_survived(tmp_path):
    import resource

    site = tmp_path / "s"
    assert main(["init", str(site)]) == 0

    def low_fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--config",
            str(site / "gateway.toml"),
            *SERVE_FLAGS,
        ],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=low_fd_limit,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    clients: list[socket.socket] = []
    try:
        assert process.stderr is not None
        url = re.search(r"at (http://127\.0\.0\.1:(\d+)/)", process.stderr.readline())
        assert url, "server did not start"
        port = int(url.group(2))
        for _ in range(80):  # more than the server has fds for: the backlog holds the rest
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True).start()
        wait_for(
            lambda: any(
                "not accepting new connections for now: out of file descriptors" in line
                for line in lines
            ),
            timeout=10,
        )
        for client in clients:
            client.close()
        clients.clear()
        answered = wait_for(lambda: _try_get(url.group(1) + "api/hello"), timeout=20, interval=0.1)
        assert answered == 200
        assert process.poll() is None  # still serving
    finally:
        for client in clients:
            client.close()
        process.kill()
        process.wait()


def _try_get(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None
