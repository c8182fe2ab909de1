"""The design-limit reference: the least a pure-Python selectors server can do per request
(split the head with bytes methods, one dict lookup, send + os.sendfile). Not a server to use:
no limits, no validation, GET only. Usage: python minimal_loop.py PORT PUBLIC_DIR"""

from __future__ import annotations

import os
import selectors
import socket
import sys
import time
from email.utils import formatdate

JSON_BODY = b'{"hello":"w"}'


def _date() -> bytes:
    return formatdate(time.time(), usegmt=True).encode()


def routes(public: str) -> dict[bytes, tuple[bytes, int, int]]:
    """path -> (head bytes before Date, fd or -1, length); bodies of fixed routes follow the
    head. The head is completed with the current Date when sent."""
    table: dict[bytes, tuple[bytes, int, int]] = {}
    fixed = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % len(
        JSON_BODY
    )
    table[b"/json-fixed"] = (fixed, -1, 0)
    for name in os.listdir(public):
        fd = os.open(os.path.join(public, name), os.O_RDONLY)
        size = os.fstat(fd).st_size
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
            b"content-length: %d\r\n" % size
        )
        table[b"/" + name.encode()] = (head, fd, size)
    return table


def serve(port: int, public: str) -> None:
    table = routes(public)
    sel = selectors.DefaultSelector()
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    buffers: dict[socket.socket, bytes] = {}
    date_line = [b"date: " + _date() + b"\r\n\r\n", time.monotonic()]

    def accept(_sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buffers[conn] = b""
            sel.register(conn, selectors.EVENT_READ, readable)

    def readable(conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            sel.unregister(conn)
            del buffers[conn]
            conn.close()
            return
        buf = buffers[conn] + data
        out = []
        files = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            path = buf[: buf.find(b"\r\n")].split(b" ")[1]
            buf = buf[end + 4 :]
            head, fd, size = table.get(
                path, (b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n", -1, 0)
            )
            out.append(head + date_line[0])
            if fd < 0:
                if path == b"/json-fixed":
                    out.append(JSON_BODY)
            else:
                files.append((b"".join(out), fd, size))
                out = []
        buffers[conn] = buf
        conn.setblocking(True)  # a reference, not a server: block rather than queue
        try:
            for head, fd, size in files:
                conn.sendall(head, socket.MSG_MORE)  # head and file in one segment
                offset = 0
                while offset < size:
                    offset += os.sendfile(conn.fileno(), fd, offset, size - offset)
            if out:
                conn.sendall(b"".join(out))
        except OSError:  # the client left mid-answer (a check that read only the head)
            sel.unregister(conn)
            del buffers[conn]
            conn.close()
            return
        conn.setblocking(False)

    sel.register(listener, selectors.EVENT_READ, accept)
    while True:
        for key, _mask in sel.select(1.0):
            key.data(key.fileobj)
        now = time.monotonic()
        if now - date_line[1] >= 1.0:
            date_line[:] = [b"date: " + _date() + b"\r\n\r\n", now]


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
