"""The local CA for development: a CA key and certificate made once per user, outside any
project (<data home>/ca, folder 0700, key 0600), and leaves it signs for localhost, 127.0.0.1,
::1 and the site's hosts, reissued when the names change or expiry comes near."""

from __future__ import annotations

import datetime
import getpass
import hashlib
import logging
import socket
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from gateway.tls import issue
from gateway.tls.certificates import cert_names, load_chain, load_key
from gateway.tls.files import data_home, private_dir, write_atomic
from gateway.tls.names import normal

log = logging.getLogger("gateway.tls")

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
LEAF_DAYS = 365
REISSUE_BEFORE = datetime.timedelta(days=30)


def default_dir() -> Path:
    return data_home() / "ca"


def leaf_names(hosts: Iterable[str], extra: Iterable[str] = ()) -> tuple[str, ...]:
    """localhost, 127.0.0.1 and ::1, then the site's hosts and `extra`, once each."""
    return tuple(dict.fromkeys(normal(name) for name in (*LOCAL_NAMES, *hosts, *extra)))


class LocalCA:
    """The CA in `directory`; `ensure()` creates it on first use."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_dir()
        self.cert_path = self.directory / "ca.pem"
        self.key_path = self.directory / "ca.key"

    def ensure(self) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
        """The CA certificate and key, made now if this user has none yet."""
        if self.cert_path.exists() and self.key_path.exists():
            key = load_key(self.key_path)
            assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
            return load_chain(self.cert_path)[0], key
        private_dir(self.directory)
        key = issue.new_key()
        name = f"gateway local CA {getpass.getuser()}@{socket.gethostname()}"
        cert = issue.make_ca(name[:64], key)
        write_atomic(self.key_path, issue.key_pem(key))
        write_atomic(self.cert_path, issue.cert_pem(cert), mode=0o644)
        log.info("tls: created the local CA %s (trust it with `gateway trust`)", self.cert_path)
        return cert, key

    def leaf(
        self, names: tuple[str, ...], site: str = "default", now: datetime.datetime | None = None
    ) -> tuple[Path, Path]:
        """cert and key files of a leaf for `names`, kept per site and reused while its
        names match and it has more than REISSUE_BEFORE left."""
        now = now or datetime.datetime.now(datetime.UTC)
        folder = private_dir(self.directory / "leaves" / site_id(site))
        cert_path, key_path = folder / "cert.pem", folder / "key.pem"
        if self._current(cert_path, key_path, names, now):
            return cert_path, key_path
        ca, ca_key = self.ensure()
        key = issue.new_key()
        leaf = issue.issue_leaf(
            names, key, ca, ca_key, not_after=now + datetime.timedelta(days=LEAF_DAYS)
        )
        write_atomic(key_path, issue.key_pem(key))
        write_atomic(cert_path, issue.cert_pem(leaf, ca), mode=0o644)
        log.info("tls: issued a local certificate for %s", ", ".join(names))
        return cert_path, key_path

    def _current(
        self, cert_path: Path, key_path: Path, names: tuple[str, ...], now: datetime.datetime
    ) -> bool:
        if not (cert_path.exists() and key_path.exists() and self.cert_path.exists()):
            return False
        chain = load_chain(cert_path)
        ca = load_chain(self.cert_path)[0]
        return (
            set(cert_names(chain[0])) == set(names)
            and chain[0].issuer == ca.subject
            and chain[0].not_valid_after_utc - now > REISSUE_BEFORE
        )


def site_id(site: str) -> str:
    """A folder name for a site (its config path): short, stable, no path characters."""
    return hashlib.sha256(site.encode()).hexdigest()[:16]
