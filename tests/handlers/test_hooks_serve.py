"""[server] startup / shutdown hooks under `gateway serve`: sync and async ones run in the
worker (async ones on its async loop, so what they open is the handlers' loop's), shutdown
in reverse order after serving; a failing startup hook stops the start with exit 1."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from gateway.cli import main
from tests.cli.test_cli import serving

HOOKS = """
import asyncio
from pathlib import Path

STATE = {}
LOG = Path(__file__).parent.parent / "hooks.log"

def sync_start():
    STATE["sync"] = True
    LOG.write_text("sync_start\\n")

async def async_start():
    STATE["loop"] = id(asyncio.get_running_loop())
    with LOG.open("a") as f:
        f.write("async_start\\n")

async def handler(request):
    return {"sync": STATE.get("sync"), "same_loop": STATE.get("loop") == id(asyncio.get_running_loop())}

async def async_stop():
    with LOG.open("a") as f:
        f.write("async_stop\\n")

def sync_stop():
    with LOG.open("a") as f:
        f.write("sync_stop\\n")

def broken():
    raise RuntimeError("database unreachable")

def takes_args(x):
    pass
"""

CONFIG = """
[server]
access_log = "off"
startup = [{startup}]
shutdown = ["api.hooks:sync_stop", "api.hooks:async_stop"]

[[route]]
path = "/state"
handler = "api.hooks:handler"
"""


def site(tmp_path: Path, startup: str) -> Path:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "__init__.py").write_text("")
    (tmp_path / "api" / "hooks.py").write_text(HOOKS)
    config = tmp_path / "gateway.toml"
    config.write_text(textwrap.dedent(CONFIG.format(startup=startup)))
    return config


def test_sync_and_async_hooks_run_around_serving(tmp_path: Path) -> None:
    config = site(tmp_path, '"api.hooks:sync_start", "api.hooks:async_start"')
    with serving(config) as (process, url):
        assert httpx.get(url + "state").json() == {"sync": True, "same_loop": True}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    log = (tmp_path / "hooks.log").read_text().split()
    assert log == ["sync_start", "async_start", "async_stop", "sync_stop"]


def test_a_failing_startup_hook_stops_the_start(tmp_path: Path) -> None:
    config = site(tmp_path, '"api.hooks:broken"')
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--config",
            str(config),
            "--listen",
            "127.0.0.1:0",
            "--no-reload",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "a startup hook failed: RuntimeError: database unreachable" in done.stderr


def test_check_names_a_hook_that_takes_arguments(tmp_path: Path, capsys) -> None:
    config = site(tmp_path, '"api.hooks:takes_args", "api.hooks:nope"')
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "server.startup[0]: hook 'api.hooks:takes_args' must take no arguments" in err
    assert "server.startup[1]" in err and "no function 'nope'" in err
