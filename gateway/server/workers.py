"""Prefork: the master reserves each listen address (so port 0 resolves once), forks N
workers that each bind it again with SO_REUSEPORT and run their own loop, forwards
SIGINT/SIGTERM to them, and replaces a worker that dies while not shutting down."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import Any

from gateway import __version__
from gateway.app import App
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
        # Bound, not listening: holds each port number while the workers listen on it.
        reserved = [bind(address, reuse_port=True, listen=False) for address in listen]
        reserved += [bind(address, reuse_port=True, listen=False) for address in secure]
    except OSError as exc:
        wanted = ", ".join([*listen, *secure])
        print(f"gateway: cannot listen on {wanted}: {exc.strerror}", file=sys.stderr)
        return 1
    addresses = [address_of(sock) for sock in reserved]
    for index, address in enumerate(addresses):
        scheme = "https" if index >= len(listen) else "http"
        print(
            f"gateway {__version__} serving {config_path} at {scheme}://{address}/ "
            f"with {workers} workers ({dev_modes(app.config.dev, reload)})",
            file=sys.stderr,
        )
    master = _Master(config_path, app, addresses[: len(listen)], reload)
    master.tls_listen, master.tls_site = addresses[len(listen) :], tls_site
    try:
        code = master.run(workers)
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
            if pid == self.renewer:
                self.renewer = 0  # the next worker started takes renewals over
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
        renew = not self.renewer
        pid = os.fork()
        if pid:
            self.children.add(pid)
            self.renewer = pid if renew else self.renewer
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
                renew=renew,
                tls_listen=self.tls_listen,
                tls_site=self.tls_site,
            )
        except BaseException:
            log.exception("worker failed")
        finally:
            sys.stderr.flush()
            os._exit(code)
