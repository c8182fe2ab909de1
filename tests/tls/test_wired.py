"""[tls] as users meet it through the gateway command: `gateway check` on expired, mismatched
and world-readable certificates, `gateway serve` refusing what cannot work, SNI choosing
among certificate files over the wire, certificate files replaced while serving (and a
broken replacement keeping the old), redirect_http off with an HSTS table, and headless
Chromium loading a page from `gateway serve` with the local CA trusted."""

from __future__ import annotations

import datetime
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from gateway.cli import main
from tests.browser import headless, needs_chromium
from tests.tls.pebble import free_port
from tests.tls.served import presented, serving, site, wait_for_text

pytest.importorskip("cryptography", reason="the tls extra (cryptography) is not installed")
from cryptography import x509

from tests.tls.certs import ScratchCA

NOW = datetime.datetime.now(datetime.UTC)


def files_tls(port: int, *pairs: tuple[str, str], extra: str = "") -> str:
    entries = ", ".join(f'{{ cert = "certs/{c}.pem", key = "certs/{k}.key" }}' for c, k in pairs)
    return f'[tls]\nlisten = "127.0.0.1:{port}"\ncertificates = [{entries}]\n{extra}'


def alt_names(cert: dict[str, object]) -> set[str]:
    return {value for _, value in cert["subjectAltName"]}  # type: ignore[attr-defined]


# -- gateway check ------------------------------------------------------------------------


@pytest.fixture
def ca(tmp_path: Path) -> ScratchCA:
    return ScratchCA(tmp_path / "certs")


def check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["check", "--config", str(config)])
    out, err = capsys.readouterr()
    return status, out, err


def test_check_reports_an_expired_certificate(
    tmp_path: Path, ca: ScratchCA, capsys: pytest.CaptureFixture[str]
) -> None:
    old = ca.leaf("old", ["localhost"], days=-1, start=NOW - datetime.timedelta(days=10))
    config = site(tmp_path, files_tls(free_port(), ("old", "old")))
    status, out, err = check(config, capsys)
    expired = x509.load_pem_x509_certificate(old.cert.read_bytes()).not_valid_after_utc
    assert status == 1
    assert err.splitlines() == [
        f"{config}:7: tls.certificates[0]: certificate expired on {expired:%Y-%m-%d %H:%M} UTC",
        "1 error",
    ]
    assert f"tls: {old.cert} covers localhost; expires {expired:%Y-%m-%d %H:%M} UTC" in out


def test_check_reports_a_key_of_another_certificate(
    tmp_path: Path, ca: ScratchCA, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = ca.leaf("a", ["localhost"]), ca.leaf("b", ["localhost"])
    config = site(tmp_path, files_tls(free_port(), ("a", "b")))
    status, _, err = check(config, capsys)
    assert status == 1
    assert err.splitlines() == [
        f"{config}:7: tls.certificates[0]: key {str(b.key)!r} does not match certificate {str(a.cert)!r}",
        "1 error",
    ]


def test_check_and_serve_refuse_a_world_readable_key(
    tmp_path: Path, ca: ScratchCA, capsys: pytest.CaptureFixture[str]
) -> None:
    pair = ca.leaf("open", ["localhost"])
    pair.key.chmod(0o644)
    config = site(tmp_path, files_tls(free_port(), ("open", "open")))
    why = (
        f"key file {str(pair.key)!r} has mode 0644, so others can read the private key:"
        f" run `chmod 600 {pair.key}` (the key is refused until then)"
    )
    status, _, err = check(config, capsys)
    assert status == 1
    assert err.splitlines() == [f"{config}:7: tls.certificates[0]: {why}", "1 error"]
    assert main(["serve", "--config", str(config)]) == 1
    assert capsys.readouterr().err == f"gateway: [tls]: {why}\n"


def test_check_passes_a_good_certificate_and_names_its_expiry(
    tmp_path: Path, ca: ScratchCA, capsys: pytest.CaptureFixture[str]
) -> None:
    pair = ca.leaf("site", ["localhost", "www.example.test"], days=30)
    config = site(tmp_path, files_tls(free_port(), ("site", "site")))
    status, out, _ = check(config, capsys)
    leaf_end = (NOW + datetime.timedelta(days=30)).strftime("%Y-%m-%d")
    assert status == 0
    assert f"tls: {pair.cert} covers localhost, www.example.test; expires {leaf_end}" in out
    assert out.rstrip().endswith(f"{config}: ok (1 routes and mounts)")


# -- over the wire ------------------------------------------------------------------------


def test_sni_picks_the_certificate_and_plain_http_serves_without_redirect(
    tmp_path: Path, ca: ScratchCA
) -> None:
    ca.leaf("a", ["a.test"])
    ca.leaf("b", ["b.test", "localhost"])
    ca.leaf("wild", ["*.c.test"])
    plain, secure = free_port(), free_port()
    hsts = "redirect_http = false\nhsts = { max_age = '1d', include_subdomains = true }\n"
    tls = files_tls(secure, ("a", "a"), ("b", "b"), ("wild", "wild"), extra=hsts)
    config = site(tmp_path, tls, plain)
    with serving(config, secure, tmp_path / "log"):
        assert alt_names(presented(secure, ca.path, "a.test")) == {"a.test"}
        assert alt_names(presented(secure, ca.path, "b.test")) == {"b.test", "localhost"}
        assert alt_names(presented(secure, ca.path, "x.c.test")) == {"*.c.test"}
        unknown = presented(secure, ca.path, "other.test", check_name=False)
        assert alt_names(unknown) == {"a.test"}  # no name matches: the first certificate
        verify = ssl.create_default_context(cafile=str(ca.path))
        reply = httpx.get(f"https://localhost:{secure}/", verify=verify, timeout=5)
        assert reply.text == "<h1>hello over tls</h1>\n"
        assert reply.headers["strict-transport-security"] == "max-age=86400; includeSubDomains"
        plain_reply = httpx.get(f"http://127.0.0.1:{plain}/", timeout=5)
        assert plain_reply.status_code == 200 and plain_reply.text == reply.text
        assert "strict-transport-security" not in plain_reply.headers


def test_replaced_certificate_files_apply_to_new_handshakes(tmp_path: Path, ca: ScratchCA) -> None:
    ca.leaf("site", ["localhost", "one.test"])
    secure = free_port()
    config = site(tmp_path, files_tls(secure, ("site", "site")))
    log = tmp_path / "log"
    certs = tmp_path / "certs"
    with serving(config, secure, log):
        assert "one.test" in alt_names(presented(secure, ca.path, "localhost"))
        ca.leaf("next", ["localhost", "two.test"])
        os.replace(certs / "next.key", certs / "site.key")
        os.replace(certs / "next.pem", certs / "site.pem")
        wait_for_text(log, "tls: certificate files changed; new handshakes use them")
        assert "two.test" in alt_names(presented(secure, ca.path, "localhost"))
        (certs / "site.pem").write_text("not a certificate\n")
        text = wait_for_text(log, "tls: kept the old certificates: ")
        assert "holds no PEM certificate (BEGIN CERTIFICATE)" in text
        assert "two.test" in alt_names(presented(secure, ca.path, "localhost"))


@needs_chromium
@pytest.mark.skipif(not shutil.which("certutil"), reason="needs certutil (libnss3-tools)")
def test_chromium_loads_a_page_from_gateway_serve_with_the_local_ca_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As docs/tls.md tells users: `local = true`, the CA added to the NSS store with
    certutil; the page's script then asks for /loaded, which only runs if the page loaded
    over HTTPS without a certificate error."""
    secure = free_port()
    tls = f'[tls]\nlisten = "127.0.0.1:{secure}"\nlocal = {{ ca_dir = "ca" }}\n'
    config = site(tmp_path, tls, free_port(), log="common")
    page = "<!doctype html><title>tls</title><script>fetch('/loaded')</script>"
    (tmp_path / "public" / "page.html").write_text(page)
    (tmp_path / "public" / "loaded").write_text("yes")
    log = tmp_path / "log"
    with serving(config, secure, log):
        nssdb = tmp_path / "home" / ".pki" / "nssdb"
        nssdb.mkdir(parents=True)
        certutil = ["certutil", "-d", f"sql:{nssdb}"]
        subprocess.run([*certutil, "-N", "--empty-password"], check=True, capture_output=True)
        subprocess.run([*certutil, "-A", "-t", "C,,", "-n", "gateway local CA", "-i", str(tmp_path / "ca" / "ca.pem")], check=True, capture_output=True)  # fmt: skip
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        with headless(f"https://localhost:{secure}/page.html", tmp_path / "profile"):
            wait_for_text(log, '"GET /loaded HTTP/1.1" 200', timeout=20)


def local_https(port: int, ca: Path) -> httpx.Response:
    verify = ssl.create_default_context(cafile=str(ca))
    return httpx.get(f"https://localhost:{port}/", verify=verify, timeout=5)


def test_prefork_workers_all_speak_tls(tmp_path: Path) -> None:
    secure = free_port()
    tls = f'[tls]\nlisten = "127.0.0.1:{secure}"\nlocal = {{ ca_dir = "ca" }}\n'
    config = site(tmp_path, tls, free_port())
    config.write_text(config.read_text().replace("[server]\n", "[server]\nworkers = 2\n"))
    with serving(config, secure, tmp_path / "log"):
        for _ in range(6):  # new connections, spread over the workers by SO_REUSEPORT
            assert local_https(secure, tmp_path / "ca" / "ca.pem").status_code == 200
    assert "with 2 workers" in (tmp_path / "log").read_text()


def test_an_edited_tls_table_applies_on_reload(tmp_path: Path) -> None:
    secure = free_port()
    tls = f'[tls]\nlisten = "127.0.0.1:{secure}"\nlocal = {{ ca_dir = "ca" }}\n'
    config = site(tmp_path, tls + "[dev]\nreload = true\n", free_port())
    ca = tmp_path / "ca" / "ca.pem"
    with serving(config, secure, tmp_path / "log"):
        assert "strict-transport-security" not in local_https(secure, ca).headers
        config.write_text(config.read_text().replace("[dev]", 'hsts = "1h"\n\n[dev]'))
        wait_for_text(tmp_path / "log", "tls: [tls] changed: applied")
        assert local_https(secure, ca).headers["strict-transport-security"] == "max-age=3600"


def test_moving_the_tls_table_down_is_no_change(tmp_path: Path) -> None:
    from gateway.config.load import parse_config
    from gateway.tls.serving import essence

    tls = '[tls]\nlisten = "127.0.0.1:8443"\nlocal = { names = ["a.test"] }\n'
    path = tmp_path / "gateway.toml"
    first = parse_config(tls, path).tls
    moved = parse_config("\n\n" + tls, path).tls
    edited = parse_config(tls + 'hsts = "1d"\n', path).tls
    assert first != moved and essence(first) == essence(moved)
    assert essence(first) != essence(edited)
