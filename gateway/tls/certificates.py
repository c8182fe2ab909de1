"""Certificate files checked with `cryptography`: PEM chains and keys loaded, the key matched
to the leaf, the chain walked (each certificate issued by the next), names matched to the
site's hosts, expiry reported. Key bytes are never logged or put in a message."""

from __future__ import annotations

import datetime
import itertools
import ssl
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

from gateway.errors import GatewayError
from gateway.tls import names as hostnames
from gateway.tls.files import read_private

SOON = datetime.timedelta(days=14)  # closer than this to expiry: a warning


class CertificateError(GatewayError):
    """A certificate or key that cannot be served; the message says what to fix."""


@dataclass(frozen=True)
class CertReport:
    """What `gateway check` says about one cert/key pair."""

    cert: Path
    names: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    issuer: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)  # errors no client could get past

    @property
    def ok(self) -> bool:
        return not self.errors


def load_chain(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CertificateError(f"cannot read {str(path)!r}: {error.strerror}") from None
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        chain = []
    if not chain:
        raise CertificateError(f"{str(path)!r} holds no PEM certificate (BEGIN CERTIFICATE)")
    return chain


def load_key(path: Path) -> PrivateKeyTypes:
    data = read_private(path)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # The library's message may quote the data; ours names only the file.
        raise CertificateError(
            f"{str(path)!r} holds no unencrypted PEM private key (BEGIN PRIVATE KEY)"
        ) from None


def cert_names(cert: x509.Certificate) -> tuple[str, ...]:
    """DNS names and IP addresses of the subjectAltName (the common name when it has none)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return tuple(hostnames.normal(str(attr.value)) for attr in common)
    found = [hostnames.normal(name) for name in san.get_values_for_type(x509.DNSName)]
    found += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return tuple(found)


def same_key(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


def check_pair(
    cert_path: Path,
    key_path: Path,
    hosts: tuple[str, ...] = (),
    now: datetime.datetime | None = None,
    roots: list[x509.Certificate] | None = None,
) -> CertReport:
    """Load and check one pair; raises CertificateError only when a file can't be read."""
    chain = load_chain(cert_path)
    key = load_key(key_path)
    leaf = chain[0]
    now = now or datetime.datetime.now(datetime.UTC)
    report = CertReport(
        cert_path,
        cert_names(leaf),
        leaf.not_valid_before_utc,
        leaf.not_valid_after_utc,
        leaf.issuer.rfc4514_string(),
    )
    if not same_key(leaf, key):
        report.broken.append(f"key {str(key_path)!r} does not match certificate {str(cert_path)!r}")
    report.broken.extend(chain_problems(chain, cert_path))
    report.errors.extend(report.broken)
    if roots is not None:
        report.warnings.extend(root_problems(chain, roots))
    report.errors.extend(dates_problems(leaf, now, report.warnings))
    missing = [host for host in hosts if not hostnames.covers(report.names, host)]
    if missing:
        report.errors.append(
            f"certificate {str(cert_path)!r} does not cover {', '.join(map(repr, missing))}"
            f" (it names {', '.join(report.names) or 'nothing'})"
        )
    return report


def chain_problems(chain: list[x509.Certificate], path: Path) -> list[str]:
    problems = []
    for index, (cert, issuer) in enumerate(itertools.pairwise(chain)):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            problems.append(
                f"chain in {str(path)!r} is out of order or broken: certificate {index + 1}"
                f" ({cert.subject.rfc4514_string()}) is not issued by certificate {index + 2}"
                f" ({issuer.subject.rfc4514_string()}); put the leaf first, then each issuer"
            )
    return problems


def root_problems(chain: list[x509.Certificate], roots: list[x509.Certificate]) -> list[str]:
    """A warning when the chain's last certificate is neither a root nor issued by one of
    `roots`: usually the intermediate certificate is missing from the file."""
    last = chain[-1]
    if last.issuer == last.subject:
        return []
    for root in roots:
        if root.subject == last.issuer:
            try:
                last.verify_directly_issued_by(root)
                return []
            except (ValueError, TypeError, InvalidSignature):
                continue
    return [
        f"the chain ends at a certificate issued by {last.issuer.rfc4514_string()!r}, which is"
        " not a root this system trusts: add the intermediate certificate(s) after the leaf"
    ]


def dates_problems(
    leaf: x509.Certificate, now: datetime.datetime, warnings: list[str]
) -> list[str]:
    if now < leaf.not_valid_before_utc:
        return [f"certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"]
    if now >= leaf.not_valid_after_utc:
        return [f"certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"]
    if leaf.not_valid_after_utc - now < SOON:
        warnings.append(f"certificate expires soon: {leaf.not_valid_after_utc:%Y-%m-%d} UTC")
    return []


def system_roots() -> list[x509.Certificate]:
    """The roots in OpenSSL's default CA file (empty when there is none)."""
    cafile = ssl.get_default_verify_paths().cafile
    if not cafile:
        return []
    try:
        with warnings.catch_warnings():  # some old roots have a non-positive serial
            warnings.simplefilter("ignore")
            return x509.load_pem_x509_certificates(Path(cafile).read_bytes())
    except (OSError, ValueError):
        return []
