"""[server] pid_file: written atomically with our pid, refused while it names another live
process (a second gateway), replaced when stale, removed only by the process it names."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway.server.signals import PidFile, read_pid


def test_written_and_removed(tmp_path):
    pid_file = PidFile(tmp_path / "run" / "gateway.pid")
    pid_file.write()
    assert read_pid(pid_file.path) == os.getpid()
    pid_file.remove()
    assert not pid_file.path.exists()


def test_another_live_gateway_is_refused_and_a_stale_file_replaced(tmp_path):
    path = tmp_path / "gateway.pid"
    path.write_text(f"{os.getppid()}\n")  # alive, and not us
    with pytest.raises(OSError, match="already runs as pid"):
        PidFile(path).write()
    PidFile(path).write(predecessor=os.getppid())  # SIGUSR2: the old one may be named
    assert read_pid(path) == os.getpid()
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    path.write_text(done.stdout)  # a pid that has exited
    PidFile(path).write()
    assert read_pid(path) == os.getpid()


def test_a_successors_file_is_left_alone(tmp_path):
    path = tmp_path / "gateway.pid"
    pid_file = PidFile(path)
    pid_file.write()
    path.write_text(f"{os.getppid()}\n")  # the new gateway wrote its own
    pid_file.remove()
    assert read_pid(path) == os.getppid()
