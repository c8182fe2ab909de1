"""SIGUSR2, the zero-downtime upgrade: start the installed gateway again (our own command
line) with our listening sockets at fd 3.. (LISTEN_FDS), and let it tell us to drain once it
serves. A prefork master hands over every slot's socket itself, not copies (see slots.py):
no accept queue is closed, so no waiting connection is reset."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gateway.activation import exec_with_sockets

if TYPE_CHECKING:
    from gateway.server.serve import Server

log = logging.getLogger("gateway.server")

UPGRADE_PARENT = "GATEWAY_UPGRADE_PARENT"  # set for the new gateway SIGUSR2 starts
UPGRADE_IDLE_GRACE = 1.0  # seconds: see Server.drain_idle_after

# In a worker of a new master started by SIGUSR2: write one byte here once serving.
ready_fd: int | None = None


def start_new_gateway(socks: Sequence[socket.socket], names: Sequence[str]) -> int | None:
    """Exec our own command line (so the code installed now is what runs) on `socks`;
    its pid, or None (logged) when it could not be started."""
    argv = [sys.executable, *sys.orig_argv[1:]]
    os.environ[UPGRADE_PARENT] = str(os.getpid())
    try:
        pid = exec_with_sockets(argv, socks, names)
    except OSError as exc:
        log.error("upgrade: cannot start a new gateway: %s", exc.strerror or exc)
        return None
    finally:
        del os.environ[UPGRADE_PARENT]
    log.info("upgrade: started pid %d on our sockets; serving until it is ready", pid)
    return pid


def take_predecessor() -> int | None:
    """The gateway whose SIGUSR2 started us (and the variable removed), or None."""
    text = os.environ.pop(UPGRADE_PARENT, "")
    return int(text) if text.isdigit() else None


# -- a prefork master ---------------------------------------------------------------------


def start_for_master(master: Any) -> None:
    """SIGUSR2 in a prefork master (a workers._Master): start the new gateway on every slot
    socket, and tell our workers that the drain to come is an upgrade's (gentle on idle
    keep-alive connections). Once the new one serves, it sends us SIGTERM."""
    if master.stopping:
        return
    if master.successor:
        log.warning("upgrade: pid %d is already starting; SIGUSR2 ignored", master.successor)
        return
    pid = start_new_gateway(*master.slots.handover())
    if pid is None:
        return
    master.successor = pid
    for child in list(master.children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGUSR2)


def retire_when_ready(master: Any, predecessor: int, workers: int) -> None:
    """In a new master started by SIGUSR2: once `workers` workers (first ones or their
    replacements) serve, SIGTERM the old gateway so it drains. Until then it serves too; if
    ours never get there, it simply goes on serving."""
    read, master.ready_fd = os.pipe()
    master.upgrade_read_fd = read

    def wait() -> None:
        got = 0
        while got < workers:
            data = os.read(read, workers - got)
            if not data:
                return
            got += len(data)
        write, master.ready_fd, master.upgrade_read_fd = master.ready_fd, None, None
        for end in (read, write):
            with contextlib.suppress(OSError):
                os.close(end)
        log.info("upgrade: %d workers serving; asking pid %d to drain", workers, predecessor)
        with contextlib.suppress(ProcessLookupError):
            os.kill(predecessor, signal.SIGTERM)

    threading.Thread(target=wait, name="gateway-upgrade", daemon=True).start()


# -- a prefork worker ---------------------------------------------------------------------


def in_child(fd: int | None, read_fd: int | None = None) -> None:
    """After the fork, in a worker: keep the write end to report "serving" on."""
    global ready_fd
    ready_fd = fd
    if read_fd is not None:
        with contextlib.suppress(OSError):
            os.close(read_fd)


def install_in_worker(server: Server) -> None:
    """SIGUSR2 from our master: an upgrade is under way, so when we are told to drain,
    idle keep-alive connections get a moment's grace. And when our master is an upgrade's
    new one: say we serve, once our loop runs."""
    signal.signal(signal.SIGUSR2, lambda signum, frame: _upgrading(server))
    fd = ready_fd
    if fd is None:
        return

    def ready() -> None:
        with contextlib.suppress(OSError):
            os.write(fd, b"r")
        with contextlib.suppress(OSError):
            os.close(fd)

    server.loop.call_soon(ready)


def _upgrading(server: Server) -> None:
    server.drain_idle_after = UPGRADE_IDLE_GRACE
