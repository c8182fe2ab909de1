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
from typing import Any

from gateway import __version__
from gateway.activation import ActivationError, inherited_sockets
from gateway.app import App
from gateway.metrics import SharedDir
from gateway.server import master_ops
from gateway.server.listeners import address_of, bind
from gateway.server.run import serve_single
from gateway.server.stopping import dev_modes

log = logging.getLogger("gateway.server")

RESPAWN_DELAY = 1.0


def serve_prefork(config_path: str, app: App, listen: list[str], workers: int, reload: bool) -> int:
    secure = [a for a in (app.config.tls.listen if app.config.tls else ()) if a not in listen]
    tls_site = None
    if app.config.tls is not None:  # built once: workers share its CA, files, ticket keys
        from gateway.tls.serving import BUILD_ERRORS, build_site

        try:
            tls_site = build_site(app.config)
        except BUILD_ERRORS as exc:
            print(f"gateway: [tls]: {exc}", file=sys.stderr)
            return 1
    try:
        handed = [h.sock for h in inherited_sockets()]  # socket activation: shared by all
    except ActivationError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1
    try:
        # Bound, not listening: holds each port number while the workers listen on it.
        reserved = handed or [bind(address, reuse_port=True, listen=False) for address in listen]
        if not handed:
            reserved += [bind(address, reuse_port=True, listen=False) for address in secure]
    except OSError as exc:
        wanted = ", ".join([*listen, *secure])
        print(f"gateway: cannot listen on {wanted}: {exc.strerror}", file=sys.stderr)
        return 1
    addresses = [address_of(sock) for sock in reserved]
    master = _Master(
        config_path, app, addresses[: len(listen)] if not handed else addresses, reload
    )
    master.tls_listen, master.tls_site = (addresses[len(listen) :] if not handed else []), tls_site
    master.handed = handed
    ops = master_ops.MasterOps(master, config_path, app)
    if not ops.install():
        return 1
    for index, address in enumerate(addresses):
        scheme = "https" if index >= len(listen) and not handed else "http"
        print(
            f"gateway {__version__} serving {config_path} at {scheme}://{address}/ "
            f"with {workers} workers ({dev_modes(app.config.dev, reload)})",
            file=sys.stderr,
        )
    try:
        code = ops.run(workers)
    finally:
        for sock in reserved:
            sock.close()
    print("gateway stopped", file=sys.stderr)
    return code


class _Master:
    def __init__(self, config_path: str, app: App, addresses: list[str], reload: bool) -> None:
        self.config_path = config_path
        self.app = app
        self.addresses = addresses
        self.reload = reload
        self.children: set[int] = set()
        self.stopping = False
        self.tls_listen: list[str] = []  # [tls] listen, bound: the workers listen there too
        self.renewer = 0  # the worker that runs ACME renewals (exactly one at a time)
        self.tls_site: Any = None  # gateway.tls.site.TlsSite, built before forking
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
            if pid == self.renewer:
                self.renewer = 0  # the next worker started takes renewals over
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
        renew = not self.renewer
        pid = os.fork()
        if pid:
            self.children.add(pid)
            self.renewer = pid if renew else self.renewer
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
                renew=renew,
                tls_listen=self.tls_listen,
                tls_site=self.tls_site,
                metrics_dir=self.metrics_dir,
                sockets=list(self.handed) or None,
            )
        except BaseException:
            log.exception("worker failed")
        finally:
            sys.stderr.flush()
            os._exit(code)
