"""Prefork: the master reserves each listen address (so port 0 resolves once), forks N
workers that each bind it again with SO_REUSEPORT and run their own loop, forwards
SIGINT/SIGTERM to them, and replaces a worker that dies while not shutting down."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time

from gateway import __version__
from gateway.activation import ActivationError, inherited_sockets
from gateway.app import App
from gateway.metrics import SharedDir
from gateway.server import master_ops
from gateway.server.listeners import address_of, bind
from gateway.server.run import serve_single

log = logging.getLogger("gateway.server")

RESPAWN_DELAY = 1.0


def serve_prefork(config_path: str, app: App, listen: list[str], workers: int, reload: bool) -> int:
    try:
        handed = [h.sock for h in inherited_sockets()]  # socket activation: shared by all
    except ActivationError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1
    try:
        # Bound, not listening: holds each port number while the workers listen on it.
        reserved = handed or [bind(address, reuse_port=True, listen=False) for address in listen]
    except OSError as exc:
        print(f"gateway: cannot listen on {', '.join(listen)}: {exc.strerror}", file=sys.stderr)
        return 1
    addresses = [address_of(sock) for sock in reserved]
    master = _Master(config_path, app, addresses, reload)
    master.handed = handed
    ops = master_ops.MasterOps(master, config_path, app)
    if not ops.install():
        return 1
    for address in addresses:
        print(
            f"gateway {__version__} serving {config_path} at http://{address}/ "
            f"with {workers} workers",
            file=sys.stderr,
        )
    try:
        return ops.run(workers)
    finally:
        for sock in reserved:
            sock.close()


class _Master:
    def __init__(self, config_path: str, app: App, addresses: list[str], reload: bool) -> None:
        self.config_path = config_path
        self.app = app
        self.addresses = addresses
        self.reload = reload
        self.children: set[int] = set()
        self.stopping = False
        self.metrics_dir: SharedDir | None = None  # set by MasterOps: the workers' counters
        self.handed: list[socket.socket] = []  # LISTEN_FDS sockets the workers serve as they are
        self.retiring: set[int] = set()  # stopped by a smaller `workers`: not replaced

    def run(self, workers: int) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for _ in range(workers):
            self.spawn()
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            self.children.discard(pid)
            if self.metrics_dir is not None:
                self.metrics_dir.retire(pid)
            if pid in self.retiring:
                self.retiring.discard(pid)
                continue
            if not self.stopping:
                log.warning("worker %d exited (status %d); starting another", pid, status)
                time.sleep(RESPAWN_DELAY)  # a worker that dies at once must not spin the CPU
                if not self.stopping:
                    self.spawn()
        return 0

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                self.children.discard(pid)

    def spawn(self) -> None:
        pid = os.fork()
        if pid:
            self.children.add(pid)
            return
        code = 1
        try:
            master_ops.reset_in_child()
            code = serve_single(
                self.config_path,
                self.app,
                self.addresses,
                self.reload,
                reuse_port=True,
                announce=False,
                metrics_dir=self.metrics_dir,
                sockets=list(self.handed) or None,
            )
        except BaseException:
            log.exception("worker failed")
        finally:
            sys.stderr.flush()
            os._exit(code)
