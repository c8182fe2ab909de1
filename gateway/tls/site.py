"""The front door of gateway.tls for the server: from a TlsSpec and the site's hosts, the
live SNI contexts (files, local CA or ACME), the layer to wrap each accepted connection in,
the ACME responder and renewal thread, reloads that keep the old certificates on failure,
and the redirect and HSTS answers of the plain-HTTP side."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gateway.tls.acme.responder import PREFIX, ChallengeResponder
from gateway.tls.certificates import CertificateError, check_pair, system_roots
from gateway.tls.contexts import CertificateSet, Contexts, Served
from gateway.tls.files import KeyFileError, private_dir
from gateway.tls.layer import TlsLayer
from gateway.tls.spec import TlsSpec

log = logging.getLogger("gateway.tls")

PLACEHOLDER = "placeholder-"
_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")


def site_hosts(config: Any) -> tuple[str, ...]:
    """The `host` settings of a GatewayConfig's mounts and routes, once each."""
    found = [item.host for item in (*config.static, *config.routes) if item.host]
    return tuple(dict.fromkeys(host.lower() for host in found))


class TlsSite:
    """Everything TLS of one server process. Build it before serving (bad files raise
    CertificateError naming the file), call start() once the plain listeners are up
    (ACME needs them for HTTP-01), wrap(protocol) per accepted TLS connection."""

    def __init__(self, spec: TlsSpec, hosts: Iterable[str] = (), *, site: str = "default") -> None:
        self.spec = spec
        self.hosts = tuple(hosts)
        self.site = site
        self.responder = ChallengeResponder() if spec.mode == "acme" else None
        self.manager: Any = None
        self.contexts = Contexts(self._certificates())
        ports = [int(address.rpartition(":")[2]) for address in spec.listen]
        self.https_port = str(spec.https_port or min(ports, default=443))
        self.bound: frozenset[str] = frozenset(spec.listen)

    # -- certificates ---------------------------------------------------------------------

    def _certificates(self) -> CertificateSet:
        spec = self.spec
        if spec.mode == "files":
            served = [self._checked(item.cert, item.key) for item in spec.certificates]
        elif spec.mode == "local":
            served = [self._local()]
        else:
            served = [self._acme_start()]
        certificates = CertificateSet(
            served, min_version=spec.min_version, session_tickets=spec.session_tickets
        )
        if served[0].cert.parent.name.startswith(PLACEHOLDER):
            shutil.rmtree(served[0].cert.parent)  # loaded: the context keeps it in memory
        return certificates

    def _checked(self, cert: Path, key: Path) -> Served:
        """Refuse what cannot work (unreadable, open key, key mismatch, broken chain);
        log what clients may complain about (names, dates, missing intermediate)."""
        report = check_pair(cert, key, self.hosts, roots=system_roots())
        if report.broken:
            raise CertificateError("; ".join(report.broken))
        for problem in [*report.errors, *report.warnings]:
            log.warning("tls: %s", problem)
        return Served(cert, key, report.names)

    def _local(self) -> Served:
        from gateway.tls.localca import LocalCA, leaf_names

        local = self.spec.local
        names = leaf_names(self.hosts, local.names if local else ())
        ca = LocalCA(local.ca_dir if local else None)
        cert, key = ca.leaf(names, self.site)
        return Served(cert, key, names)

    def _acme_start(self) -> Served:
        """The stored ACME certificate if usable, else a placeholder until the first order."""
        from gateway.tls.acme.issuer import AcmeIssuer
        from gateway.tls.acme.manager import AcmeManager
        from gateway.tls.acme.storage import AcmeStore

        acme = self.spec.acme
        assert acme is not None and self.responder is not None
        store = AcmeStore.for_directory(acme.storage, acme.directory)
        issuer = AcmeIssuer(acme, self.responder, store)
        self.manager = AcmeManager(acme, issuer, self._install)
        if self.manager.stored_usable():
            return Served(self.manager.cert_path, self.manager.key_path, acme.domains)
        log.warning("tls: no certificate yet for %s; ordering one", ", ".join(acme.domains))
        return placeholder(acme.domains, acme.storage)

    def _install(self, cert: Path, key: Path) -> None:
        """From the ACME thread: swap the new certificate in for new handshakes."""
        assert self.spec.acme is not None
        served = Served(cert, key, self.spec.acme.domains)
        spec = self.spec
        self.contexts.swap(
            CertificateSet(
                [served], min_version=spec.min_version, session_tickets=spec.session_tickets
            )
        )

    # -- running --------------------------------------------------------------------------

    def start(self, renew: bool = True) -> None:
        """Start the ACME thread (after the plain listeners are up: HTTP-01 needs them).
        With prefork, pass renew=True in one worker only; the others reload() when the
        stored certificate (watch_paths) changes."""
        if self.manager is not None and renew:
            self.manager.start()

    def stop(self) -> None:
        if self.manager is not None:
            self.manager.stop()

    def set_bound(self, addresses: Iterable[str]) -> None:
        """The TLS listeners' addresses as bound (a ':0' port resolved), as the server's
        wrap_protocol hook names them."""
        self.bound = frozenset(addresses)

    def wrap_protocol(self, address: str, protocol: Any) -> Any:
        """For Server.wrap_protocol: TLS around `protocol` when `address` (the listener's,
        as bound) is a [tls] listen address, `protocol` itself otherwise."""
        return self.wrap(protocol) if address in self.bound else protocol

    def wrap(self, protocol: Any) -> TlsLayer:
        """The protocol for an accepted TLS socket: `protocol` (HTTP) runs inside it."""
        return TlsLayer(
            self.contexts.context, protocol, handshake_timeout=self.spec.handshake_timeout
        )

    def watch_paths(self) -> tuple[Path, ...]:
        """Files whose change should call reload(): certificate and key files, or the
        stored ACME certificate (prefork workers that do not run the ACME thread)."""
        if self.manager is not None:
            return (self.manager.cert_path, self.manager.key_path)
        return tuple(p for item in self.spec.certificates for p in (item.cert, item.key))

    def reload(self) -> list[str]:
        """Re-read the certificates; on any problem keep serving the old ones and say why.
        With ACME: take up the stored certificate (renewed by another process) if usable."""
        if self.manager is not None:
            if self.manager.stored_usable():
                self._install(self.manager.cert_path, self.manager.key_path)
            return []
        try:
            new = self._certificates()
        except (CertificateError, KeyFileError, OSError, ValueError) as error:
            problem = f"tls: kept the old certificates: {error}"
            log.error("%s", problem)
            return [problem]
        self.contexts.swap(new)
        return []

    # -- the plain-HTTP side --------------------------------------------------------------

    def acme_answer(self, path: str) -> bytes | None:
        """The body for an ACME HTTP-01 request path (None: not one, or unknown token)."""
        return self.responder.answer_path(path) if self.responder is not None else None

    def redirect_location(self, host: str | None, target: str) -> str | None:
        """Where a plain-HTTP request should go (308), or None to serve it as it is:
        redirect_http off, an ACME challenge, or no usable Host."""
        if not self.spec.redirect_http or target.startswith(PREFIX):
            return None
        if not host:
            return None
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not _HOST.fullmatch(name) or not target.startswith("/"):
            return None
        port = "" if self.https_port == "443" else f":{self.https_port}"
        return f"https://{name.lower()}{port}{target}"

    def hsts_header(self) -> tuple[str, str] | None:
        """The Strict-Transport-Security header for responses over TLS (never plain)."""
        return self.spec.hsts.header() if self.spec.hsts is not None else None


def placeholder(domains: tuple[str, ...], storage: Path) -> Served:
    """A throwaway self-signed certificate so the TLS port answers before the first
    order completes (clients see an untrusted certificate, not a hang)."""
    from gateway.tls import issue
    from gateway.tls.files import write_atomic

    key = issue.new_key()
    ca = issue.make_ca("gateway placeholder (waiting for ACME)", key, days=7)
    leaf = issue.issue_leaf(list(domains), key, ca, key)
    folder = Path(tempfile.mkdtemp(prefix=PLACEHOLDER, dir=private_dir(storage)))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    write_atomic(key_path, issue.key_pem(key))
    write_atomic(cert_path, issue.cert_pem(leaf))
    return Served(cert_path, key_path, domains)
