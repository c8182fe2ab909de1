"""Reading the [tls] table of gateway.toml into a TlsSpec, collecting every mistake as a
ConfigIssue through gateway.config.fields (file:line: key: message, did-you-mean hints).
Exactly one of `certificates`, `acme` and `local` says where certificates come from."""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from pathlib import Path
from typing import Literal

from gateway.config import values as v
from gateway.config.fields import Invalid, Section, expected, suggest
from gateway.config.units import parse_duration
from gateway.tls.files import data_home
from gateway.tls.spec import (
    LETS_ENCRYPT,
    AcmeSpec,
    CertFiles,
    HstsSpec,
    KeyType,
    LocalSpec,
    Mode,
    TlsSpec,
)

TLS_KEYS = (
    "listen",
    "certificates",
    "acme",
    "local",
    "redirect_http",
    "https_port",
    "hsts",
    "handshake_timeout",
    "min_version",
    "session_tickets",
)
SOURCES = ("certificates", "acme", "local")
CERT_KEYS = ("cert", "key")
ACME_KEYS = ("email", "domains", "directory", "storage", "ca_file", "key_type")
LOCAL_KEYS = ("names", "ca_dir")
HSTS_KEYS = ("max_age", "include_subdomains", "preload")
KEY_TYPES: tuple[KeyType, ...] = ("p256", "p384", "rsa2048", "rsa4096")
VERSIONS: tuple[Literal["1.2", "1.3"], ...] = ("1.2", "1.3")
DEFAULT_LISTEN = {"local": ("127.0.0.1:8443",), "files": ("0.0.0.0:443",), "acme": ("0.0.0.0:443",)}

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_LONG_UNITS = {"d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def read_tls(
    section: Section | None, root: Path, plain_listen: tuple[str, ...] = ()
) -> TlsSpec | None:
    """The [tls] table (None when absent); relative paths resolve from `root`;
    `plain_listen` ([server] listen) must not share an address with tls.listen."""
    if section is None:
        return None
    section.check_keys(TLS_KEYS)
    given = [key for key in SOURCES if key in section.data]
    if len(given) != 1:
        found = f"got {' and '.join(given)}" if given else "got none"
        section.fail(None, f"needs exactly one of certificates, acme or local ({found})")
        return None
    if importlib.util.find_spec("cryptography") is None:
        section.fail(
            None, "tls needs the cryptography package: pip install cryptography (the 'tls' extra)"
        )
    mode: Mode = "files" if given[0] == "certificates" else given[0]  # type: ignore[assignment]
    listen = section.get("listen", v.listen, DEFAULT_LISTEN[mode])
    for address in listen:
        if address in plain_listen:
            section.fail(
                "listen",
                f"{address!r} is also in [server] listen: an address speaks either http or"
                " https; give tls another port, like '0.0.0.0:443' beside '0.0.0.0:80'",
            )
    spec = TlsSpec(
        mode=mode,
        listen=listen,
        certificates=read_certificates(section, root) if mode == "files" else (),
        acme=read_acme(section, root) if mode == "acme" else None,
        local=read_local(section, root) if mode == "local" else None,
        redirect_http=section.get("redirect_http", v.boolean, True),
        https_port=section.get("https_port", v.integer(1, 65535), None),
        hsts=section.get("hsts", hsts, None),
        handshake_timeout=section.get("handshake_timeout", v.duration(positive=True), 10.0),
        min_version=section.get("min_version", v.choice(VERSIONS), "1.2"),
        session_tickets=section.get("session_tickets", v.boolean, True),
        where=section.where,
    )
    return spec if section.ok else None


def read_certificates(section: Section, root: Path) -> tuple[CertFiles, ...]:
    entries = section.tables("certificates", " like [{ cert = 'site.pem', key = 'site.key' }]")
    if not entries and section.ok:
        section.fail("certificates", "needs at least one { cert = '...', key = '...' }")
    found = []
    for entry in entries:
        entry.check_keys(CERT_KEYS)
        cert = entry.require("cert", v.file(root, check=True))
        key = entry.require("key", v.file(root, check=True))
        if cert is not None and key is not None:
            found.append(CertFiles(cert, key, entry.where))
    return tuple(found)


def read_acme(section: Section, root: Path) -> AcmeSpec | None:
    table = section.table("acme")
    if table is None:
        return None
    table.check_keys(ACME_KEYS)
    domains = table.require("domains", acme_domains)
    directory = table.get("directory", url, LETS_ENCRYPT)
    default_storage = data_home() / "acme"
    spec = AcmeSpec(
        domains=domains or (),
        email=table.get("email", email, None),
        directory=directory,
        storage=table.get("storage", v.directory(root, check=False), default_storage),
        ca_file=table.get("ca_file", v.file(root, check=True), None),
        key_type=table.get("key_type", v.choice(KEY_TYPES), "p256"),
        where=table.where,
    )
    return spec if table.ok else None


def read_local(section: Section, root: Path) -> LocalSpec | None:
    value = section.data["local"]
    if value is True:
        return LocalSpec(where=section.where)
    if value is False:
        section.fail("local", "local = false names no certificates: remove [tls] or use true")
        return None
    table = section.table("local")  # reports anything that is neither a boolean nor a table
    if table is None:
        return None
    table.check_keys(LOCAL_KEYS)
    spec = LocalSpec(
        names=table.get("names", names, ()),
        ca_dir=table.get("ca_dir", v.directory(root, check=False), None),
        where=table.where,
    )
    return spec if table.ok else None


def hostname(value: object, wildcard: bool = True) -> str:
    """A DNS name ("example.com", "*.example.com" where `wildcard`) or an IP address."""
    text = v.string(value).lower().removesuffix(".")
    if _is_ip(text):
        return text
    labels = text.split(".")
    if wildcard and labels[0] == "*" and len(labels) > 2:
        labels = labels[1:]
    if not all(_LABEL.fullmatch(label) for label in labels):
        hint = "like 'example.com' or '*.example.com'" if wildcard else "like 'example.com'"
        raise Invalid(f"{value!r} is not a host name: write one {hint}")
    return text


def names(value: object) -> tuple[str, ...]:
    return v.unique(v.each(value, hostname))


def acme_domains(value: object) -> tuple[str, ...]:
    found = v.unique(v.each(value, lambda item: hostname(item, wildcard=False)))
    if not found:
        raise Invalid("needs at least one domain, like ['example.com']")
    for name in found:
        if _is_ip(name):
            raise Invalid(f"{name!r} is an IP address: ACME HTTP-01 certifies domain names")
    return found


def url(value: object) -> str:
    text = v.string(value)
    if not text.startswith("https://"):
        raise Invalid(f"{text!r} is not an https:// URL: write e.g. {LETS_ENCRYPT!r}")
    return text


def email(value: object) -> str:
    text = v.string(value)
    if "@" not in text.strip("@") or any(char.isspace() for char in text):
        raise Invalid(f"{text!r} is not an email address: write e.g. 'ops@example.com'")
    return text


def long_duration(value: object) -> float:
    """A duration that may also use d (days), w (weeks) and y (365 days): "1y", "180d"."""
    if isinstance(value, str) and value.strip()[-1:].lower() in _LONG_UNITS:
        number = value.strip()[:-1]
        try:
            seconds = parse_duration(number) * _LONG_UNITS[value.strip()[-1].lower()]
        except ValueError:
            raise Invalid(f"{value!r} is not a duration: write e.g. '1y', '180d' or '1h'") from None
        return seconds
    return v.duration()(value)


def hsts(value: object) -> HstsSpec | None:
    """false | a max-age like "1y" | { max_age, include_subdomains, preload }."""
    if value is False:
        return None
    if isinstance(value, dict):
        unknown = [key for key in value if key not in HSTS_KEYS]
        if unknown:
            hint = suggest(unknown[0], HSTS_KEYS) or f": valid keys are {', '.join(HSTS_KEYS)}"
            raise Invalid(f"unknown key {unknown[0]!r}{hint}", (unknown[0],))
        spec = HstsSpec(
            max_age=int(long_duration(value.get("max_age", "1y"))),
            include_subdomains=v.boolean(value.get("include_subdomains", False)),
            preload=v.boolean(value.get("preload", False)),
        )
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        spec = HstsSpec(max_age=int(long_duration(value)))
    else:
        raise expected("false, a max-age like '1y', or a table { max_age = '1y' }", value)
    if spec.preload and (spec.max_age < 31536000 or not spec.include_subdomains):
        raise Invalid("preload needs max_age of at least '1y' and include_subdomains = true")
    return spec


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
