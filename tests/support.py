"""Test support: start a real gateway server on 127.0.0.1:0 in a thread, write small sites
into tmp dirs, talk raw bytes over sockets, and poll to a deadline instead of sleeping."""

from __future__ import annotations

import socket
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.server.serve import Server


@dataclass
class Running:
    server: Server
    url: str
    host: str
    port: int
    thread: threading.Thread


@contextmanager
def running_server(config_path: Path, **server_kwargs: Any) -> Iterator[Running]:
    """Serve `config_path` on 127.0.0.1:0 in a thread until the block ends."""
    app = build_app(load_config(config_path))
    server = Server(app, listen=["127.0.0.1:0"], **server_kwargs)
    address = server.listen(["127.0.0.1:0"])[0]
    host, _, port = address.rpartition(":")
    thread = threading.Thread(target=server.serve_forever, name="gateway-test-server", daemon=True)
    thread.start()
    try:
        yield Running(server, f"http://{address}", host, int(port), thread)
    finally:
        server.request_shutdown()
        thread.join(15)
        assert not thread.is_alive(), "server did not shut down"


def write_site(root: Path, config: str, files: dict[str, str | bytes] | None = None) -> Path:
    """Write gateway.toml (dedented) and `files` under `root`; return the config path."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
    config_path = root / "gateway.toml"
    config_path.write_text(textwrap.dedent(config))
    return config_path


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01) -> Any:
    """Poll `predicate` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` on a fresh connection, half-close, and read until the server closes."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        with suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        return read_until_closed(sock)


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    raw_head: bytes


class ResponseReader:
    """Reads HTTP/1.1 responses one after another off a socket (Content-Length, chunked
    or no body), keeping leftover bytes for the next response."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.recv_calls = 0

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        self.recv_calls += 1
        if not data:
            raise ConnectionError("server closed the connection")
        self.buffer += data

    def read(self, head_request: bool = False) -> RawResponse:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if head_request or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif headers.get("transfer-encoding") == "chunked":
            body = self._read_chunked()
        else:
            length = int(headers.get("content-length", "0"))
            while len(self.buffer) < length:
                self._fill()
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(status, headers, body, head + b"\r\n\r\n")

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.buffer:
                self._fill()
            size_line, _, self.buffer = self.buffer.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(self.buffer) < size + 2:
                self._fill()
            body += self.buffer[:size]
            self.buffer = self.buffer[size + 2 :]
            if size == 0:
                return body
