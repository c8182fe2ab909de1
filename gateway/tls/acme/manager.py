"""Keeping an ACME certificate current: serve the stored one if it is good, get one when
there is none, renew at two thirds of its lifetime, retry failures with backoff while the
old certificate keeps serving. The blocking work runs in one background thread; `install`
(called from that thread) swaps the new files in for new handshakes."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from gateway.tls.acme.storage import AcmeStore
from gateway.tls.certificates import CertificateError, check_pair, load_chain
from gateway.tls.spec import AcmeSpec

log = logging.getLogger("gateway.tls.acme")

RETRY_FIRST = 60.0  # seconds after the first failure; doubled after each next one
RETRY_MAX = 6 * 3600.0
MAX_SLEEP = 3600.0  # re-check at least this often (clock jumps, suspended laptops)
RENEW_AT = 2 / 3  # of the lifetime from not_before


class Issuer(Protocol):
    def issue(self) -> tuple[bytes, bytes]: ...


Install = Callable[[Path, Path], None]


class AcmeManager:
    def __init__(
        self,
        spec: AcmeSpec,
        issuer: Issuer,
        install: Install,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.issuer = issuer
        self.install = install
        self.clock = clock
        self.store = AcmeStore.for_directory(spec.storage, spec.directory)
        self.cert_path, self.key_path = self.store.cert_paths(spec.domains)
        self.failures = 0
        self.retry_at = 0.0
        self.last_error: str | None = None
        self.issued = 0  # certificates obtained by this manager (tests, metrics)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load_stored(self) -> bool:
        """Install the stored certificate if it is usable for the domains now."""
        if not self.stored_usable():
            return False
        self.install(self.cert_path, self.key_path)
        return True

    def stored_usable(self) -> bool:
        """True when a stored certificate matches its key, covers the domains, is in date."""
        if not (self.cert_path.exists() and self.key_path.exists()):
            return False
        try:
            now = datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)
            report = check_pair(self.cert_path, self.key_path, self.spec.domains, now=now)
        except CertificateError as error:
            log.warning("acme: stored certificate unusable (%s); getting a new one", error)
            return False
        if not report.ok:
            log.warning("acme: stored certificate unusable (%s)", "; ".join(report.errors))
            return False
        return True

    def renew_due(self) -> float:
        """When the stored certificate should be renewed (0.0: now, there is none)."""
        try:
            leaf = load_chain(self.cert_path)[0]
        except CertificateError:
            return 0.0
        start = leaf.not_valid_before_utc.timestamp()
        end = leaf.not_valid_after_utc.timestamp()
        return start + (end - start) * RENEW_AT

    def next_attempt(self) -> float:
        return max(self.renew_due(), self.retry_at)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gateway-acme", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look at the clock again now (tests moving a fake clock; a reload)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.next_attempt() - self.clock()
            if wait > 0:
                self._wake.wait(min(wait, MAX_SLEEP))
                self._wake.clear()
                continue
            self.attempt()

    def attempt(self) -> bool:
        """One order, now. On failure: log why, schedule a retry, keep the old certificate."""
        names = ", ".join(self.spec.domains)
        try:
            chain_pem, key_pem = self.issuer.issue()
            self.store.write_certificate(self.spec.domains, chain_pem, key_pem)
            self.install(self.cert_path, self.key_path)
        except Exception as error:  # any failure (network, CA, files): retry later
            self.failures += 1
            delay = min(RETRY_FIRST * 2 ** (self.failures - 1), RETRY_MAX)
            self.retry_at = self.clock() + delay
            self.last_error = f"{type(error).__name__}: {error}"
            keeping = (
                "the current certificate keeps serving"
                if self.cert_path.exists()
                else ("no certificate yet; https answers with a placeholder")
            )
            log.error(
                "acme: could not get a certificate for %s from %s: %s; retry %d in %ds (%s)",
                names,
                self.spec.directory,
                self.last_error,
                self.failures,
                delay,
                keeping,
            )
            return False
        self.failures = 0
        self.retry_at = 0.0
        self.last_error = None
        self.issued += 1
        due = datetime.datetime.fromtimestamp(self.renew_due(), datetime.UTC)
        log.info("acme: new certificate for %s; renewal due %s UTC", names, f"{due:%Y-%m-%d %H:%M}")
        return True
