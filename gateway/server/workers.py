"""Prefork: the master reserves each listen address (so port 0 resolves once), forks N
workers that each bind it again with SO_REUSEPORT and run their own loop, forwards
SIGINT/SIGTERM to them, and replaces a worker that dies while not shutting down."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

from gateway import __version__
from gateway.app import App
from gateway.server.listeners import address_of, bind
from gateway.server.run import serve_single

log = logging.getLogger("gateway.server")

RESPAWN_DELAY = 1.0


def serve_prefork(config_path: str, app: App, listen: list[str], workers: int, reload: bool) -> int:
    try:
        # Bound, not listening: holds each port number while the workers listen on it.
        reserved = [bind(address, reuse_port=True, listen=False) for address in listen]
    except OSError as exc:
        print(f"gateway: cannot listen on {', '.join(listen)}: {exc.strerror}", file=sys.stderr)
        return 1
    addresses = [address_of(sock) for sock in reserved]
    for address in addresses:
        print(
            f"gateway {__version__} serving {config_path} at http://{address}/ "
            f"with {workers} workers",
            file=sys.stderr,
        )
    master = _Master(config_path, app, addresses, reload)
    try:
        return master.run(workers)
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

    def run(self, workers: int) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for _ in range(workers):
            self._spawn()
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            self.children.discard(pid)
            if not self.stopping:
                log.warning("worker %d exited (status %d); starting another", pid, status)
                time.sleep(RESPAWN_DELAY)  # a worker that dies at once must not spin the CPU
                if not self.stopping:
                    self._spawn()
        return 0

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                self.children.discard(pid)

    def _spawn(self) -> None:
        pid = os.fork()
        if pid:
            self.children.add(pid)
            return
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = serve_single(
                self.config_path,
                self.app,
                self.addresses,
                self.reload,
                reuse_port=True,
                announce=False,
            )
        except BaseException:
            log.exception("worker failed")
        finally:
            sys.stderr.flush()
            os._exit(code)
