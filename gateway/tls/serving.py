"""[tls] in a running server: builds the TlsSite from the config, hooks it into the Server
(its TLS listeners, the wrap_protocol seam, ctx.tls for the plain side), watches the
certificate files, and follows reloads (a changed [tls] table builds a new site)."""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.config.schema import NOWHERE
from gateway.errors import GatewayError
from gateway.tls.site import TlsSite, site_hosts
from gateway.tls.spec import TlsSpec

log = logging.getLogger("gateway.tls")

POLL_INTERVAL = 0.5  # seconds between looks at the certificate files
# What building a site can raise: a bad certificate or key file, unreadable files, OpenSSL
# refusing what cryptography accepted.
BUILD_ERRORS = (GatewayError, OSError, ssl.SSLError, ValueError)

Signature = tuple[tuple[int, int, int] | None, ...]


def build_site(config: Any) -> TlsSite:
    """The TlsSite of a GatewayConfig with [tls]; raises one of BUILD_ERRORS."""
    return TlsSite(config.tls, site_hosts(config), site=str(config.path))


def essence(spec: TlsSpec | None) -> TlsSpec | None:
    """`spec` without where its tables sit in the file: an edit above [tls] changes nothing."""
    if spec is None:
        return None
    return replace(
        spec,
        where=NOWHERE,
        certificates=tuple(replace(item, where=NOWHERE) for item in spec.certificates),
        acme=replace(spec.acme, where=NOWHERE) if spec.acme is not None else None,
        local=replace(spec.local, where=NOWHERE) if spec.local is not None else None,
    )


def signature(paths: Sequence[Path]) -> Signature:
    """What changes when a file is replaced or rewritten (through symlinks, as certbot's
    live/ links are): inode, size and mtime, or None for a missing file."""
    found: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            found.append(None)
            continue
        found.append((info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(found)


class CertWatcher:
    """A thread that calls site.reload() when its watch_paths change (and stay unchanged
    for one more look, so a cert written before its key is read as a pair)."""

    def __init__(self, site: TlsSite, interval: float = POLL_INTERVAL) -> None:
        self.site = site
        self.interval = interval
        self.paths = site.watch_paths()
        self.reloads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-tls-watch", daemon=True)

    def start(self) -> None:
        if self.paths:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        seen = signature(self.paths)
        pending: Signature | None = None
        while not self._stop.wait(self.interval):
            now = signature(self.paths)
            if now == seen:
                pending = None
                continue
            if now != pending:
                pending = now  # changed: read it once it holds still
                continue
            seen, pending = now, None
            try:
                problems = self.site.reload()
            except Exception:  # never let the watcher die: the next change tries again
                log.exception("tls: reloading the certificates failed; kept the old ones")
                continue
            self.reloads += 1
            if not problems:
                log.info("tls: certificate files changed; new handshakes use them")


class TlsServing:
    """The [tls] part of one server process. `renew`: this process runs ACME renewals
    (under prefork exactly one worker does; the others take the stored certificate up
    when the file changes)."""

    def __init__(
        self,
        server: Any,
        site: TlsSite | None,
        renew: bool = True,
        bound_as: Sequence[str] | None = None,
    ) -> None:
        self.server = server
        self.renew = renew
        # Prefork: the master bound the TLS addresses (port 0 resolved) for every worker.
        listen = site.spec.listen if site is not None else ()
        bound = list(bound_as or ())
        self.bound_as = dict(zip(listen, bound, strict=True)) if len(bound) == len(listen) else {}
        self.site: TlsSite | None = None
        self.watcher: CertWatcher | None = None
        server.on_shutdown.append(self.stop)
        server.on_swap.append(self.on_swap)
        self._install(site)

    def _install(self, site: TlsSite | None) -> None:
        self.site = site
        server = self.server
        server.ctx.tls = site
        server.wrap_protocol = site.wrap_protocol if site is not None else None
        listen = site.spec.listen if site is not None else ()
        server.extra_listen = [self.bound_as.get(address, address) for address in listen]

    def bound(self, addresses: Sequence[str]) -> None:
        """After the server listens: the TLS listeners' real addresses; start ACME (it
        needs the plain listener up for HTTP-01) and the certificate watcher."""
        if self.site is None:
            return
        self.site.set_bound(addresses)
        self.site.start(renew=self.renew)
        self.watcher = CertWatcher(self.site)
        self.watcher.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self.site is not None:
            self.site.stop()

    def on_swap(self, old: Any, new: Any) -> None:
        """On the loop, after a reloaded app is swapped in: a changed [tls] table builds a
        new site (on failure the old one keeps serving, and the log says why)."""
        if essence(old.config.tls) == essence(new.config.tls):
            return
        site = None
        if new.config.tls is not None:
            try:
                site = build_site(new.config)
            except BUILD_ERRORS as error:
                log.error("tls: [tls] changed but cannot be served, keeping the old: %s", error)
                return
        self.stop()
        self._install(site)
        addresses = self.server.listen()
        if site is not None:
            self.bound(addresses[len(addresses) - len(site.spec.listen) :])
        log.info("tls: [tls] changed: %s", "applied" if site else "https is off")

    def scheme(self, address: str) -> str:
        return "https" if self.site is not None and address in self.site.bound else "http"
