"""The parsed [tls] table: frozen specs with plain values (paths absolute, durations in
seconds). Built by gateway.tls.config; read by the certificate, ACME and local-CA code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gateway.config.schema import NOWHERE, Where

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
Mode = Literal["files", "acme", "local"]
KeyType = Literal["p256", "p384", "rsa2048", "rsa4096"]


@dataclass(frozen=True, slots=True)
class CertFiles:
    cert: Path  # PEM: the leaf first, then its intermediates
    key: Path  # PEM private key, mode 0600
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True)
class AcmeSpec:
    domains: tuple[str, ...]
    email: str | None = None
    directory: str = LETS_ENCRYPT
    storage: Path = Path("acme")  # account key, certificates and their keys (0600)
    ca_file: Path | None = None  # roots to trust for the directory (Pebble, a private CA)
    key_type: KeyType = "p256"
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True)
class LocalSpec:
    names: tuple[str, ...] = ()  # more names for the leaf, besides localhost and site hosts
    ca_dir: Path | None = None  # None: <data home>/ca
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True)
class HstsSpec:
    max_age: int = 31536000
    include_subdomains: bool = False
    preload: bool = False

    def header(self) -> tuple[str, str]:
        value = f"max-age={self.max_age}"
        if self.include_subdomains:
            value += "; includeSubDomains"
        if self.preload:
            value += "; preload"
        return ("strict-transport-security", value)


@dataclass(frozen=True, slots=True)
class TlsSpec:
    mode: Mode
    listen: tuple[str, ...]  # the TLS listeners; [server] listen stays plain HTTP
    certificates: tuple[CertFiles, ...] = ()
    acme: AcmeSpec | None = None
    local: LocalSpec | None = None
    redirect_http: bool = True  # plain listeners answer 308 to https (ACME challenges excepted)
    https_port: int | None = None  # the port in redirects; None: the lowest listen port
    hsts: HstsSpec | None = None
    handshake_timeout: float = 10.0
    min_version: Literal["1.2", "1.3"] = "1.2"
    session_tickets: bool = True
    where: Where = NOWHERE
