"""ssl.SSLContexts for serving: TLS 1.2 and 1.3 only, Mozilla's "intermediate" ciphers,
ALPN http/1.1, session tickets; one context per certificate with SNI choosing among them
(exact name, then wildcard, else the first). Contexts holds the current set and swaps it in
one assignment, so a reload applies to new handshakes while old connections carry on."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.tls import names as hostnames

log = logging.getLogger("gateway.tls")

# https://ssl-config.mozilla.org/ "intermediate" (TLS 1.3 suites are OpenSSL's defaults).
INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    )
)
ALPN = ["http/1.1"]


@dataclass(frozen=True, slots=True)
class Served:
    """One certificate to serve: PEM files on disk and the names it covers."""

    cert: Path
    key: Path
    names: tuple[str, ...]


def server_context(
    cert: Path, key: Path, *, min_version: str = "1.2", session_tickets: bool = True
) -> ssl.SSLContext:
    """A server context for one cert/key pair (load_cert_chain checks that they match)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = (
        ssl.TLSVersion.TLSv1_3 if min_version == "1.3" else ssl.TLSVersion.TLSv1_2
    )
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.set_ciphers(INTERMEDIATE_CIPHERS)
    context.set_alpn_protocols(ALPN)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    # Mozilla intermediate: let the client pick (it knows whether it has AES hardware).
    context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if not session_tickets:
        context.options |= ssl.OP_NO_TICKET
        context.num_tickets = 0
    context.load_cert_chain(cert, key)
    return context


class CertificateSet:
    """Contexts by name. `default` is the one new connections start with; its SNI callback
    moves a handshake to the context whose certificate names the requested host."""

    def __init__(
        self, served: Sequence[Served], *, min_version: str = "1.2", session_tickets: bool = True
    ) -> None:
        if not served:
            raise ValueError("a certificate set needs at least one certificate")
        self.served = tuple(served)
        self.by_name: dict[str, ssl.SSLContext] = {}
        contexts = []
        for item in served:
            context = server_context(
                item.cert, item.key, min_version=min_version, session_tickets=session_tickets
            )
            contexts.append(context)
            for name in item.names:
                self.by_name.setdefault(hostnames.normal(name), context)
        self.default = contexts[0]
        if len(contexts) > 1:
            for context in contexts:
                context.sni_callback = self._on_server_name

    def select(self, server_name: str | None) -> ssl.SSLContext:
        """The context for `server_name`: exact, then wildcard, then the default."""
        if server_name:
            host = hostnames.normal(server_name)
            found = self.by_name.get(host)
            if found is None:
                wildcard = hostnames.wildcard_of(host)
                found = self.by_name.get(wildcard) if wildcard else None
            if found is not None:
                return found
        return self.default

    def _on_server_name(
        self, ssl_object: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext
    ) -> None:
        chosen = self.select(server_name)
        if chosen is not ssl_object.context:
            ssl_object.context = chosen
        return None


class Contexts:
    """The live CertificateSet. Readers take `current.default` per new connection; `swap`
    replaces it in one reference assignment (safe from the ACME thread too)."""

    def __init__(self, initial: CertificateSet) -> None:
        self.current = initial

    def swap(self, new: CertificateSet) -> None:
        self.current = new
        names = ", ".join(name for item in new.served for name in item.names)
        log.info("tls: now serving certificates for %s", names or "(no names)")

    def context(self) -> ssl.SSLContext:
        return self.current.default
