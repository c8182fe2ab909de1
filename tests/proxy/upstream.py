"""Real upstreams for the proxy's end-to-end tests: a threaded HTTP/1.1 server on 127.0.0.1:0
that echoes what it got as JSON (method, path, headers, body, the peer port of the connection),
streams server-sent events on /events, and stalls on /stall until told; and Origin, a raw
socket server whose handler writes exactly the bytes a test wants (ws_echo, keep_alive_origin)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BIG = 32 * 1024 * 1024  # /big's length: more than socket buffers hold on both hops
# /endless's length: written only while someone reads. 32 MiB is not enough to stall the
# origin: a TCP receive buffer autotunes up to tcp_rmem's max (32 MiB here), plus send
# buffers and the splice pipe.
ENDLESS = 256 * 1024 * 1024


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
        if self.path.endswith("/endless"):  # more than every buffer on the way holds
            return self._big(ENDLESS)
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


class Origin:
    """A raw upstream on 127.0.0.1:0: `handle(conn)` runs per accepted connection."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.handle = handle
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn:
            self.handle(conn)

    def close(self) -> None:
        self.sock.close()


def read_request(conn: socket.socket, buf: bytearray) -> bytes | None:
    """One request (head and Content-Length body) from conn; None at EOF."""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(buf) < end + length:
        buf += conn.recv(65536)
    body = bytes(buf[end : end + length])
    del buf[: end + length]
    return head + body


def keep_alive_origin(close_after: int = 0) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        buf = bytearray()
        served = 0
        while (request := read_request(conn, buf)) is not None:
            body = b"got %d bytes" % (len(request) - request.index(b"\r\n\r\n") - 4)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            served += 1
            if served == close_after:
                return  # closes while the proxy thinks it is idle

    return handle
