"""`gateway serve` with a [tls] table, end to end in a subprocess: the local CA's HTTPS with
HSTS, the plain listener's 308 and plain HTTP to the TLS port; ACME against Pebble with
gateway's own plain listener answering HTTP-01. Skipped until [tls] is wired into serve."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from gateway.config import load
from tests.tls import pebble as pebble_server

pytestmark = [
    pytest.mark.skipif("tls" not in load.TOP_KEYS, reason="[tls] is not wired into serve yet"),
    pytest.mark.skipif(
        __import__("importlib").util.find_spec("cryptography") is None,
        reason="the tls extra (cryptography) is not installed",
    ),
]


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


def site(tmp_path: Path, tls: str, plain_port: int) -> Path:
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "index.html").write_text("<h1>hello over tls</h1>\n")
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[server]\nlisten = ["127.0.0.1:{plain_port}"]\naccess_log = "off"\n\n{tls}\n'
        '[[static]]\nprefix = "/"\ndir = "public"\n'
    )
    return config


def test_local_ca_redirect_hsts(tmp_path: Path) -> None:
    plain, secure = pebble_server.free_port(), pebble_server.free_port()
    tls = f'[tls]\nlisten = "127.0.0.1:{secure}"\nlocal = {{ ca_dir = "ca" }}\nhsts = "1y"\n'
    config = site(tmp_path, tls, plain)
    with serving(config, secure, tmp_path / "log"):
        verify = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.pem"))
        reply = httpx.get(f"https://localhost:{secure}/", verify=verify, timeout=5)
        assert reply.status_code == 200 and reply.text == "<h1>hello over tls</h1>\n"
        assert reply.headers["strict-transport-security"] == "max-age=31536000"
        plain_reply = httpx.get(f"http://localhost:{plain}/a?b=1", timeout=5)
        assert plain_reply.status_code == 308
        assert plain_reply.headers["location"] == f"https://localhost:{secure}/a?b=1"
        assert "strict-transport-security" not in plain_reply.headers
        wrong = httpx.get(f"http://127.0.0.1:{secure}/", timeout=5)
        assert wrong.status_code == 400 and "speaks https" in wrong.text


@pytest.mark.skipif(not pebble_server.available(), reason="pebble is not installed")
def test_acme_through_gateways_own_plain_listener(tmp_path: Path) -> None:
    pytest.importorskip("acme", reason="the acme extra (acme, josepy) is not installed")
    with pebble_server.running_pebble(tmp_path / "pebble") as pebble:
        secure = pebble_server.free_port()
        tls = (
            f'[tls]\nlisten = "127.0.0.1:{secure}"\n[tls.acme]\ndomains = ["www.gateway.test"]\n'
            f'directory = "{pebble.directory}"\nca_file = "{pebble.ca_file}"\nstorage = "acme"\n'
        )
        config = site(tmp_path, tls, pebble.http_port)
        root = tmp_path / "pebble-root.pem"
        root.write_bytes(pebble.root_pem())
        context = ssl.create_default_context(cafile=str(root))
        with serving(config, secure, tmp_path / "log"):
            deadline = time.monotonic() + 20
            answer, last = b"", None
            while time.monotonic() < deadline and not answer:
                try:  # a placeholder certificate until the order completes: retry
                    answer = fetch(secure, context, "www.gateway.test")
                except (ssl.SSLError, OSError) as error:
                    last = error
                    time.sleep(0.1)
        assert answer.startswith(b"HTTP/1.1 200 OK"), (last, (tmp_path / "log").read_text())
        assert answer.endswith(b"<h1>hello over tls</h1>\n")
        assert oct(os.stat(next((tmp_path / "acme").rglob("key.pem"))).st_mode & 0o777) == "0o600"
