"""Host names against certificate names: exact names, one-label wildcards ("*.example.com"
covers "a.example.com", not "example.com" nor "a.b.example.com") and IP addresses."""

from __future__ import annotations

import ipaddress


def normal(host: str) -> str:
    """Lowercase, no trailing dot, no brackets around an IPv6 address."""
    host = host.strip().lower().removesuffix(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def wildcard_of(host: str) -> str | None:
    """The wildcard name that would cover `host`: "a.example.com" -> "*.example.com"."""
    if is_ip(host):
        return None
    first, dot, rest = host.partition(".")
    return f"*.{rest}" if dot and "." in rest and first != "*" else None


def covers(cert_names: tuple[str, ...], host: str) -> bool:
    """True when one of a certificate's names (normalised) covers `host`."""
    host = normal(host)
    if host in cert_names:
        return True
    if is_ip(host):
        address = ipaddress.ip_address(host)
        return any(is_ip(name) and ipaddress.ip_address(name) == address for name in cert_names)
    wildcard = wildcard_of(host)
    return wildcard is not None and wildcard in cert_names
