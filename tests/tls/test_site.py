"""TlsSite, the front door the server uses: contexts for each source, reload keeping the
old certificates on failure, ACME placeholder and challenge answers, redirects and HSTS;
and `gateway check` output for certificate files."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="the tls extra (cryptography) is not installed")

from cryptography import x509

from gateway.tls.certificates import cert_names
from gateway.tls.check import check_tls
from gateway.tls.site import TlsSite
from gateway.tls.spec import AcmeSpec, CertFiles, LocalSpec, TlsSpec
from tests.tls.certs import ScratchCA
from tests.tls.fakes import Client, FakeLoop, FakeOuter, Recorder, exchange
from tests.tls.test_config import parse


def served_names(site: TlsSite, ca: Path | None, server_name: str) -> tuple[str, ...]:
    """Handshake through site.wrap(); the names of the certificate served (ca None:
    accept any certificate, for the ACME placeholder)."""
    loop = FakeLoop()
    outer, inner = FakeOuter(loop), Recorder()
    layer = site.wrap(inner)
    outer.protocol = layer
    layer.connection_made(outer)
    client = Client(ca or certifi_like(), server_name, insecure=ca is None)
    exchange(client, layer, outer)
    assert inner.events == ["made"]
    der = client.ssl.getpeercert(binary_form=True)
    assert der is not None
    return cert_names(x509.load_der_x509_certificate(der))


def certifi_like() -> Path:
    return Path(ssl.get_default_verify_paths().openssl_cafile)


def test_files_and_reload(tmp_path: Path) -> None:
    ca = ScratchCA(tmp_path)
    one = ca.leaf("one", ["example.com"])
    spec = TlsSpec("files", ("127.0.0.1:0",), certificates=(CertFiles(one.cert, one.key),))
    site = TlsSite(spec, ("example.com",))
    assert site.watch_paths() == (one.cert, one.key)
    plain = Recorder()
    assert site.wrap_protocol("127.0.0.1:0", plain).protocol is plain  # a TlsLayer around it
    assert site.wrap_protocol("127.0.0.1:80", plain) is plain
    site.set_bound(["127.0.0.1:4443"])
    assert site.wrap_protocol("127.0.0.1:4443", plain).protocol is plain
    assert served_names(site, ca.path, "example.com") == ("example.com",)
    # A broken edit (key of another certificate) keeps the old one serving.
    two = ca.leaf("two", ["www.example.com", "example.com"])
    one.key.write_bytes(two.key.read_bytes())
    problems = site.reload()
    assert len(problems) == 1 and "kept the old certificates: key " in problems[0]
    assert served_names(site, ca.path, "example.com") == ("example.com",)
    # A good edit applies to the next handshake.
    one.cert.write_bytes(two.cert.read_bytes())
    assert site.reload() == []
    assert served_names(site, ca.path, "example.com") == ("www.example.com", "example.com")


def test_local(tmp_path: Path) -> None:
    spec = TlsSpec("local", ("127.0.0.1:8443",), local=LocalSpec(("dev.test",), tmp_path / "ca"))
    site = TlsSite(spec, ("app.test",), site=str(tmp_path / "gateway.toml"))
    names = served_names(site, tmp_path / "ca" / "ca.pem", "app.test")
    assert names == ("localhost", "app.test", "dev.test", "127.0.0.1", "::1")  # DNS, then IPs


def test_acme_placeholder_and_answers(tmp_path: Path) -> None:
    pytest.importorskip("acme", reason="the acme extra (acme, josepy) is not installed")
    acme = AcmeSpec(("example.com",), directory="https://127.0.0.1:9/dir", storage=tmp_path)
    spec = TlsSpec("acme", ("0.0.0.0:443",), acme=acme)
    site = TlsSite(spec)
    assert served_names(site, None, "example.com") == ("example.com",)
    assert site.responder is not None and site.manager is not None
    assert list(tmp_path.glob("placeholder-*")) == []  # loaded, then removed from disk
    site.responder.put("tok_en-1", "tok_en-1.thumbprint")
    assert site.acme_answer("/.well-known/acme-challenge/tok_en-1") == b"tok_en-1.thumbprint"
    assert site.acme_answer("/.well-known/acme-challenge/../x") is None
    assert site.acme_answer("/index.html") is None
    # Another process (the worker running the ACME thread) stores a certificate: reload
    # takes it up for new handshakes.
    ca = ScratchCA(tmp_path / "ca")
    issued = ca.leaf("issued", ["example.com"])
    cert_path, key_path = site.watch_paths()
    cert_path.parent.mkdir(parents=True)
    cert_path.write_bytes(issued.cert.read_bytes())
    key_path.write_bytes(issued.key.read_bytes())
    key_path.chmod(0o600)
    assert site.reload() == []
    assert served_names(site, ca.path, "example.com") == ("example.com",)


def test_redirect_and_hsts(tmp_path: Path) -> None:
    spec = TlsSpec("local", ("127.0.0.1:8443",), local=LocalSpec(ca_dir=None), hsts=None)
    site = TlsSite.__new__(TlsSite)  # no certificates needed for the plain-HTTP answers
    site.spec, site.https_port = spec, "8443"
    assert site.redirect_location("Example.com:8000", "/a?b=1") == "https://example.com:8443/a?b=1"
    assert site.redirect_location("[::1]", "/") == "https://[::1]:8443/"
    assert site.redirect_location("example.com", "/.well-known/acme-challenge/x") is None
    assert site.redirect_location(None, "/") is None
    assert site.redirect_location("bad host\r\nx: y", "/") is None
    site.https_port = "443"
    assert site.redirect_location("example.com", "/") == "https://example.com/"
    assert site.hsts_header() is None
    spec = TlsSpec("local", ("0.0.0.0:8443",), https_port=443, local=LocalSpec(ca_dir=tmp_path))
    assert TlsSite(spec, site="x").redirect_location("a.test", "/") == "https://a.test/"
    site.spec = TlsSpec("local", ("0.0.0.0:443",), redirect_http=False)
    assert site.redirect_location("example.com", "/") is None


def test_check_reports_at_lines(tmp_path: Path) -> None:
    ca = ScratchCA(tmp_path)
    good = ca.leaf("good", ["example.com"], days=30)
    old = ca.leaf(
        "old", ["example.com"], days=-1, start=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    )
    text = (
        "[tls]\ncertificates = [\n"
        "  { cert = 'good.pem', key = 'good.key' },\n"
        "  { cert = 'old.pem', key = 'good.key' },\n"
        "]\n"
    )
    spec, problems = parse(tmp_path, text)
    assert problems == [] and spec is not None
    result = check_tls(spec, ("example.com", "api.example.com"))
    messages = [str(issue) for issue in result.issues]
    assert messages[0] == (
        "gateway.toml:3: tls.certificates[0]: certificate"
        f" {str(good.cert)!r} does not cover 'api.example.com' (it names example.com)"
    )
    assert messages[1] == (
        f"gateway.toml:4: tls.certificates[1]: key {str(good.key)!r} does not match certificate {str(old.cert)!r}"
    )
    assert messages[2].startswith("gateway.toml:4: tls.certificates[1]: certificate expired on ")
    expiry = f"{good.cert} covers example.com; expires "
    assert any(expiry in note for note in result.notes)
    assert any(
        "gateway.toml:3: warning: the chain ends at a certificate issued by" in n
        for n in result.notes
    )
    assert old.key.exists()
