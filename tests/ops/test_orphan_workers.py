"""A prefork worker whose master is gone (killed with SIGKILL, which it cannot forward) stops
serving and exits instead of living on as an orphan that holds the port: as gunicorn's
workers do, and as a supervisor that restarts the master needs."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.ops.serving import Gateway
from tests.support import wait_for, write_site

CONFIG = """
[server]
listen = ["127.0.0.1:0"]
access_log = "off"
workers = 2

[[route]]
path = "/a"
respond = { status = 200, body = "a" }
"""

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited: only its parent (init, now) has to reap it


def test_workers_exit_when_their_master_is_killed(tmp_path):
    gateway = Gateway(write_site(tmp_path, CONFIG))
    workers: list[int] = []
    try:
        workers = wait_for(
            lambda: len(children(gateway.proc.pid)) == 2 and children(gateway.proc.pid)
        )
        os.kill(gateway.proc.pid, signal.SIGKILL)
        gateway.proc.wait(10)
        wait_for(lambda: not any(alive(pid) for pid in workers), timeout=15)
    finally:
        for pid in workers:  # ours: never leave them behind, even when the assert failed
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        gateway.stop()
