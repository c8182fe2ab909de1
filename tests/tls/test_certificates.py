"""Certificate checks (key match, chain order, names, dates, key file modes) and the
SNI contexts built from them."""

from __future__ import annotations

import datetime
import os
import ssl
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="the tls extra (cryptography) is not installed")

import contextlib

from gateway.tls import issue
from gateway.tls.certificates import CertificateError, check_pair, load_key
from gateway.tls.contexts import INTERMEDIATE_CIPHERS, CertificateSet, Contexts, Served
from gateway.tls.files import KeyFileError, write_atomic
from gateway.tls.names import covers
from tests.tls.certs import ScratchCA


def test_names_exact_wildcard_and_ip() -> None:
    names = ("example.com", "*.example.com", "127.0.0.1", "::1")
    assert covers(names, "Example.COM.")
    assert covers(names, "www.example.com")
    assert not covers(names, "a.b.example.com")
    assert not covers(names, "example.org")
    assert covers(names, "[::1]") and covers(names, "0:0::1")
    assert not covers(("*.com",), "com")


def test_good_pair(tmp_path: Path) -> None:
    ca = ScratchCA(tmp_path)
    pair = ca.leaf("site", ["example.com", "*.example.com"], with_ca=True)
    report = check_pair(pair.cert, pair.key, ("example.com", "api.example.com"))
    assert report.ok, report.errors
    assert report.names == ("example.com", "*.example.com")
    assert report.not_after > datetime.datetime.now(datetime.UTC)


def test_problems_all_reported(tmp_path: Path) -> None:
    ca = ScratchCA(tmp_path)
    other = ScratchCA(tmp_path / "other", "other CA")
    pair = ca.leaf(
        "site", ["example.com"], days=-1, start=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    )
    wrong = ca.leaf("wrong", ["example.com"])
    # A chain whose second certificate did not issue the first.
    pair.cert.write_bytes(pair.cert.read_bytes() + issue.cert_pem(other.cert))
    report = check_pair(pair.cert, wrong.key, ("example.com", "www.example.com"))
    text = "\n".join(report.errors)
    assert f"key {str(wrong.key)!r} does not match certificate {str(pair.cert)!r}" in text
    assert "is not issued by certificate 2 (CN=other CA,O=gateway local CA)" in text
    assert "certificate expired on " in text
    assert "does not cover 'www.example.com' (it names example.com)" in text


def test_missing_intermediate_warns(tmp_path: Path) -> None:
    ca = ScratchCA(tmp_path)
    pair = ca.leaf("site", ["example.com"], days=3)
    report = check_pair(pair.cert, pair.key, roots=[])
    assert report.ok
    assert any("not a root this system trusts" in w for w in report.warnings)
    assert any("expires soon" in w for w in report.warnings)
    report = check_pair(pair.cert, pair.key, roots=[ca.cert])
    assert not any("root" in w for w in report.warnings)


def test_open_key_file_refused(tmp_path: Path) -> None:
    pair = ScratchCA(tmp_path).leaf("site", ["example.com"])
    pair.key.chmod(0o644)
    with pytest.raises(KeyFileError) as caught:
        load_key(pair.key)
    assert str(caught.value) == (
        f"key file {str(pair.key)!r} has mode 0644, so others can read the private key:"
        f" run `chmod 600 {pair.key}` (the key is refused until then)"
    )
    pair.key.chmod(0o600)
    load_key(pair.key)
    pair.key.chmod(0o640)  # group-readable: only Debian's root-owned ssl-cert way is allowed
    if os.geteuid() == 0:
        load_key(pair.key)
    else:
        with pytest.raises(KeyFileError):
            load_key(pair.key)


def test_key_material_not_in_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    secret = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n"
    write_atomic(bad, secret)
    with pytest.raises(CertificateError) as caught:
        load_key(bad)
    assert "c2VjcmV0" not in str(caught.value)
    assert oct(bad.stat().st_mode & 0o777) == "0o600"


def handshake_name(
    context: ssl.SSLContext, ca: Path, server_name: str, check_hostname: bool = False
) -> tuple[str, ...]:
    """Handshake in memory with SNI `server_name`; the names of the certificate served.
    Raises SSLCertVerificationError when the client (trusting only `ca`) refuses it."""
    client_ctx = ssl.create_default_context(cafile=str(ca))
    client_ctx.check_hostname = check_hostname
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_name)
    server = context.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    client.do_handshake()  # raises if the handshake did not complete
    cert = client.getpeercert()
    assert cert is not None
    return tuple(value for _, value in cert["subjectAltName"])


def test_sni_exact_then_wildcard_then_default(tmp_path: Path) -> None:
    ca = ScratchCA(tmp_path)
    first = ca.leaf("first", ["default.test"])
    star = ca.leaf("star", ["*.example.com"])
    exact = ca.leaf("exact", ["api.example.com"])
    served = [
        Served(p.cert, p.key, names)
        for p, names in (
            (first, ("default.test",)),
            (star, ("*.example.com",)),
            (exact, ("api.example.com",)),
        )
    ]
    contexts = Contexts(CertificateSet(served))
    ctx = contexts.context()
    assert handshake_name(ctx, ca.path, "api.example.com") == ("api.example.com",)
    assert handshake_name(ctx, ca.path, "www.example.com") == ("*.example.com",)
    assert handshake_name(ctx, ca.path, "other.test") == ("default.test",)
    # A swap applies to the next handshake.
    contexts.swap(CertificateSet([Served(exact.cert, exact.key, ("api.example.com",))]))
    assert handshake_name(contexts.context(), ca.path, "other.test") == ("api.example.com",)


def test_context_settings(tmp_path: Path) -> None:
    pair = ScratchCA(tmp_path).leaf("site", ["example.com"])
    ctx = CertificateSet([Served(pair.cert, pair.key, ("example.com",))]).default
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.maximum_version == ssl.TLSVersion.TLSv1_3
    ciphers = {c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert "ECDHE-ECDSA-AES128-GCM-SHA256" in ciphers
    assert ciphers <= set(INTERMEDIATE_CIPHERS.split(":"))
    assert not ctx.options & ssl.OP_NO_TICKET
