"""`gateway serve` in a subprocess for the TLS tests: start it on a config and wait for its
TLS port, write a small site, and fetch over TLS with a raw socket."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def serving(config: Path, tls_port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fetch(port: int, context: ssl.SSLContext, name: str) -> bytes:
    """GET / over TLS with a raw socket, trusting `context`; the whole answer."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=2)
    with context.wrap_socket(raw, server_hostname=name) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: %s\r\nconnection: close\r\n\r\n" % name.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def site(tmp_path: Path, tls: str, plain_port: int = 0, log: str = "off") -> Path:
    """gateway.toml serving public/index.html, with `tls` (a [tls] table) and the access
    log `log` (on stderr, which serving() writes to its log file)."""
    (tmp_path / "public").mkdir(exist_ok=True)
    (tmp_path / "public" / "index.html").write_text("<h1>hello over tls</h1>\n")
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[server]\nlisten = ["127.0.0.1:{plain_port}"]\naccess_log = "{log}"\n\n{tls}\n'
        '[[static]]\nprefix = "/"\ndir = "public"\n'
    )
    return config


def presented(port: int, cafile: Path, name: str, check_name: bool = True) -> dict[str, object]:
    """The certificate the server presents for SNI `name` (verified against `cafile`)."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.check_hostname = check_name
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=name) as sock,
    ):
        cert = sock.getpeercert()
    assert cert is not None
    return dict(cert)


def wait_for_text(path: Path, text: str, timeout: float = 10.0) -> str:
    """The file's text once it contains `text` (polled to a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        found = path.read_text(errors="replace") if path.exists() else ""
        if text in found or time.monotonic() > deadline:
            assert text in found, found
            return found
        time.sleep(0.05)
