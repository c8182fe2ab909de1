"""The TLS layer over a real socket: the glue's Loop and SocketTransport below it, a tiny
HTTP responder above it, httpx and raw sockets as clients (skipped until the glue's
transport is on this branch)."""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.tls.spec import LocalSpec, TlsSpec
from tests.browser import headless, needs_chromium

pytest.importorskip("cryptography", reason="the tls extra (cryptography) is not installed")
pytest.importorskip(
    "gateway.server.transport", reason="the glue's transport is not on this branch yet"
)
loop_module = pytest.importorskip("gateway.server.loop")
try:  # SocketTransport moved to its own module in the glue branch
    from gateway.server.sockets import SocketTransport
except ImportError:
    from gateway.server.transport import SocketTransport  # type: ignore[no-redef,attr-defined]

from gateway.tls.site import TlsSite  # noqa: E402 (needs cryptography)

BIG = 2 * 1024 * 1024 + 3


class Responder:
    """Answers each request head: /file with write_file, anything else with its path."""

    seen: list[bytes] = []  # paths asked for, by every connection (the browser test)

    def __init__(self, file_path: Path) -> None:
        self.file_path = file_path
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            path = head.split(b" ")[1]
            Responder.seen.append(path)
            if path == b"/page":
                body = b"<!doctype html><title>tls</title><script>fetch('/loaded')</script>"
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(body), body)
                )
            elif path == b"/file":
                fd = os.open(self.file_path, os.O_RDONLY)
                self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % BIG)
                self.transport.write_file(fd, 0, BIG, lambda ok, fd=fd: os.close(fd))
            else:
                body = b"you asked for " + path
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
                )

    def eof_received(self) -> None:
        self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        pass

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(BIG))
    spec = TlsSpec(
        "local", ("127.0.0.1:0",), local=LocalSpec(ca_dir=tmp_path / "ca"), handshake_timeout=2.0
    )
    site = TlsSite(spec)
    loop = loop_module.Loop()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)

    def accept(mask: int) -> None:
        conn, _ = listener.accept()
        conn.setblocking(False)
        SocketTransport(loop, conn, site.wrap(Responder(big)))

    loop.selector.register(listener, selectors.EVENT_READ, accept)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop.is_set,), daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], tmp_path / "ca" / "ca.pem"
    finally:
        stop.set()
        loop.call_soon_threadsafe(lambda: None)
        thread.join(5)
        listener.close()


def test_httpx_over_tls(server: tuple[int, Path], tmp_path: Path) -> None:
    port, ca = server
    context = ssl.create_default_context(cafile=str(ca))
    with httpx.Client(verify=context, timeout=5) as client:
        reply = client.get(f"https://localhost:{port}/hello")
        assert reply.status_code == 200 and reply.text == "you asked for /hello"
        reply = client.get(f"https://127.0.0.1:{port}/file")  # same connection pool, IP name
        assert reply.content == (tmp_path / "big.bin").read_bytes()


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_curl_over_tls(server: tuple[int, Path]) -> None:
    port, ca = server
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "5", "--cacert", str(ca), "--tlsv1.2", "-w", " %{http_version} %{ssl_verify_result}", f"https://localhost:{port}/curl"],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    assert done.stdout == "you asked for /curl 1.1 0"


def test_plain_http_to_tls_port(server: tuple[int, Path]) -> None:
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % port)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert answer.endswith(b"use https://localhost:%d/x\n" % port)


def test_silent_client_is_cut_after_the_handshake_timeout(server: tuple[int, Path]) -> None:
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
        assert sock.recv(100) == b""  # closed by the server within the 2 s timeout


@needs_chromium
@pytest.mark.skipif(not shutil.which("certutil"), reason="needs certutil (libnss3-tools)")
def test_chromium_trusts_the_local_ca(
    server: tuple[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A browser whose NSS store trusts the local CA (as `gateway trust` tells users to do)
    loads the page over HTTPS and runs its script, which asks for /loaded."""
    port, ca = server
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    certutil = ["certutil", "-d", f"sql:{nssdb}"]
    subprocess.run([*certutil, "-N", "--empty-password"], check=True, capture_output=True)
    subprocess.run([*certutil, "-A", "-t", "C,,", "-n", "gateway local CA", "-i", str(ca)], check=True, capture_output=True)  # fmt: skip
    monkeypatch.setenv("HOME", str(home))
    Responder.seen.clear()
    with headless(f"https://localhost:{port}/page", tmp_path / "profile"):
        deadline = time.monotonic() + 20
        while b"/loaded" not in Responder.seen and time.monotonic() < deadline:
            time.sleep(0.05)
    assert b"/loaded" in Responder.seen, Responder.seen
