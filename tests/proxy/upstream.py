"""A real upstream for the proxy's end-to-end tests: a threaded HTTP/1.1 server on
127.0.0.1:0 that echoes what it got as JSON (method, path, headers, body, the peer port of
the connection), streams server-sent events on /events, and stalls on /stall until told."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BIG = 32 * 1024 * 1024  # /big's length: more than socket buffers hold on both hops


class Upstream(ThreadingHTTPServer):
    daemon_threads = True
    name = "a"
    release: threading.Event
    hits: int
    healthy: bool = True  # /healthz answers 200, else 503
    gave_up: threading.Event  # the proxy closed the connection in the middle of /big

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        self.server.hits += 1
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.endswith("/events"):
            return self._events()
        if self.path.endswith("/big"):
            return self._big()
        if self.path == "/healthz":
            self.server.hits -= 1  # checks are not traffic
            self.send_response(200 if self.server.healthy else 503)
            self.send_header("content-length", "0")
            self.end_headers()
            return None
        if self.path.endswith("/stall"):
            self.server.release.wait(10)
        data = json.dumps(
            {
                "server": self.server.name,
                "method": self.command,
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "body": body.decode("latin-1"),
                "peer_port": self.client_address[1],
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-upstream", self.server.name)
        self.send_header("keep-alive", "timeout=5")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _big(self, size: int = BIG) -> None:
        self.send_response(200)
        self.send_header("content-length", str(size))
        self.end_headers()
        block = b"z" * 65536
        try:
            for _ in range(size // len(block)):
                self.wfile.write(block)
        except OSError:
            self.close_connection = True  # the proxy gave up on this response
            self.server.gave_up.set()

    def _events(self) -> None:
        """One event now, the second once `release` is set: the proxy must flush the first."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for text in (b"data: one\n\n", None, b"data: two\n\n"):
            if text is None:
                self.server.release.wait(10)
                continue
            self.wfile.write(b"%x\r\n%s\r\n" % (len(text), text))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer


@contextmanager
def upstream(name: str = "a") -> Iterator[Upstream]:
    server = Upstream(("127.0.0.1", 0), Handler)
    server.name, server.release, server.hits = name, threading.Event(), 0
    server.gave_up = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def dead_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ws_echo(conn: socket.socket) -> None:
    """A WebSocket origin on one accepted socket (wsproto): accepts the handshake, answers
    each text message with 'echo: ' + it, and the close with a close."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, CloseConnection, Message, Request, TextMessage

    ws = WSConnection(ConnectionType.SERVER)
    while data := conn.recv(65536):
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, Request):
                conn.sendall(ws.send(AcceptConnection()))
            elif isinstance(event, TextMessage):
                conn.sendall(ws.send(Message(data="echo: " + event.data)))
            elif isinstance(event, CloseConnection):
                conn.sendall(ws.send(event.response()))
                return
