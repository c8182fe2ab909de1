"""Socket activation through `gateway serve`: a listening socket handed over at fd 3 (as
systemd does) is served, and while no gateway runs, connections wait in its backlog and
are answered by the next one: a restart refuses nothing; with one process and with
workers (each worker serves the handed socket)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.ops.serving import stop_serve, wait_for_url
from tests.ops.test_activation import SHIM
from tests.support import write_site

CONFIG = """
[server]
listen = ["127.0.0.1:0"]
access_log = "off"

[[route]]
path = "/a"
respond = { status = 200, body = "a" }
"""


def start(sock: socket.socket, config) -> subprocess.Popen:
    fd = sock.fileno()
    child = f"import sys; from gateway.cli import main; sys.exit(main(['serve', '-c', {str(config)!r}]))"
    return subprocess.Popen(
        [sys.executable, "-c", SHIM, str(fd), "self", "1", "http", child],
        pass_fds=[fd],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def ask(conn: socket.socket) -> bytes:
    conn.sendall(b"GET /a HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    data = b""
    while chunk := conn.recv(4096):
        data += chunk
    return data


@pytest.mark.parametrize("workers", [1, 2])
def test_a_handed_socket_is_served_and_a_restart_refuses_nothing(tmp_path, workers):
    config = write_site(tmp_path, CONFIG.replace("[server]", f"[server]\nworkers = {workers}"))
    held = socket.socket()  # what systemd keeps open across restarts
    held.bind(("127.0.0.1", 0))
    held.listen(64)
    host, port = held.getsockname()
    address = f"{host}:{port}"
    first = start(held, config)
    try:
        url = wait_for_url(first, time.monotonic() + 20)
        if url != f"http://{address}":
            pytest.skip("gateway serve does not take LISTEN_FDS sockets yet")
        with socket.create_connection(held.getsockname(), timeout=10) as conn:
            assert ask(conn).endswith(b"\r\n\r\na")
    finally:
        stop_serve(first)
    # No gateway runs now: the kernel still completes the handshake into the backlog.
    waiting = socket.create_connection(held.getsockname(), timeout=10)
    second = start(held, config)
    try:
        wait_for_url(second, time.monotonic() + 20)
        assert ask(waiting).endswith(b"\r\n\r\na")
    finally:
        waiting.close()
        stop_serve(second)
        held.close()
