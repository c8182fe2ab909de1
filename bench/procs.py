"""Server processes for the harness: start one in its own process group with output in
a log file, wait for its port against a deadline, and stop the whole group by its id.
Every process started here is stopped by `running()`'s finally, whatever happens."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (bound to 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


@dataclass
class Server:
    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log: Path

    def wait_ready(self, timeout: float) -> str | None:
        """None once the port accepts a connection; else why it never did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.popen.poll()
            if code is not None:
                return f"exited with code {code} before listening"
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return None
            except OSError:
                time.sleep(0.05)
        return f"did not accept connections on {HOST}:{self.port} within {timeout:g}s"

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the process group (prefork children too), SIGKILL it after `grace`."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)  # the group id is the pid: start_new_session
            try:
                self.popen.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # orphans of a leader that already died
            os.killpg(self.popen.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(name: str, argv: Sequence[str], port: int, cwd: Path, log: Path) -> Iterator[Server]:
    """Start `argv` (stdin closed, stdout+stderr to `log`) and always stop it on exit."""
    with log.open("wb") as out:
        popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, port, popen, log)
    try:
        yield server
    finally:
        server.stop()
