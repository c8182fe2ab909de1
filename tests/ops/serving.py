"""Test support for `gateway serve` run as a real process: start it, read its URL, keep
its stderr drained (and kept, for asserts), put load on it from threads, stop it."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx


def wait_for_url(proc: subprocess.Popen, deadline: float) -> str:
    """The URL from the 'serving ... at http://...' line on stderr."""
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if not ready:
            assert proc.poll() is None, "".join(seen)
            continue
        line = proc.stderr.readline()
        seen.append(line)
        if " at http://" in line:
            return line.split(" at ", 1)[1].split()[0].rstrip("/")
    raise AssertionError("gateway serve did not start:\n" + "".join(seen))


def start_serve(config: Path, *args: str) -> subprocess.Popen[str]:
    """`gateway serve --config config *args` as a process, its stderr a pipe (unbuffered)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def stop_serve(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, up to 15 s to exit (then SIGKILL), and its stderr pipe closed."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    assert proc.stderr is not None
    proc.stderr.close()


class Gateway:
    def __init__(self, config: Path, *args: str) -> None:
        self.proc = start_serve(config, *args)
        self.url = wait_for_url(self.proc, time.monotonic() + 20)
        self.lines: list[str] = []
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._drain.join(5)
        return self.proc.returncode


class Load:
    """Requests in a loop from two threads until stop(): one on a keep-alive connection,
    one on a new connection each time. `failures` lists every error; `bodies` counts."""

    def __init__(self, url: str, path: str = "/a") -> None:
        self.url = url + path
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.address = (host, int(port))
        self.path = path
        self.failures: list[str] = []
        self.bodies: Counter[str] = Counter()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._keep_alive, daemon=True),
            threading.Thread(target=self._fresh, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _keep_alive(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(self.url)
                    self._count(response.status_code, response.text)
                except httpx.HTTPError as exc:
                    self.failures.append(f"keep-alive: {exc!r}")

    def _fresh(self) -> None:
        request = f"GET {self.path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode()
        while not self._stop.is_set():
            try:
                with socket.create_connection(self.address, timeout=10) as conn:
                    conn.sendall(request)
                    data = b""
                    while chunk := conn.recv(65536):
                        data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1]) if head else 0
                self._count(status, body.decode("utf-8", "replace"))
            except (OSError, ValueError, IndexError) as exc:
                self.failures.append(f"fresh: {exc!r}")

    def _count(self, status: int, body: str) -> None:
        if status != 200:
            self.failures.append(f"status {status}: {body[:80]!r}")
        else:
            self.bodies[body] += 1

    def total(self) -> int:
        return sum(self.bodies.values()) + len(self.failures)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)
