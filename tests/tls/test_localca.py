"""The local CA: made once per user with private modes, leaves for localhost and the site's
names that clients trusting the CA accept, reissued when names change or expiry nears;
`gateway trust` text and the Debian system-store install."""

from __future__ import annotations

import datetime
import os
import ssl
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="the tls extra (cryptography) is not installed")

from cryptography import x509

from gateway.tls.contexts import CertificateSet, Served
from gateway.tls.files import data_home
from gateway.tls.localca import LocalCA, default_dir, leaf_names
from gateway.tls.trust import install_system, trust_command
from tests.tls.test_certificates import handshake_name


def serial(path: Path) -> int:
    return x509.load_pem_x509_certificates(path.read_bytes())[0].serial_number


def test_default_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_dir() == tmp_path / "gateway" / "ca"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert data_home() == Path.home() / ".local" / "share" / "gateway"


def test_ca_made_once_with_private_modes(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "ca")
    cert, _ = ca.ensure()
    assert (tmp_path / "ca").stat().st_mode & 0o777 == 0o700
    assert ca.key_path.stat().st_mode & 0o777 == 0o600
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    again, _ = LocalCA(tmp_path / "ca").ensure()
    assert again.serial_number == cert.serial_number


def test_leaf_trusted_reused_and_reissued(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "ca")
    names = leaf_names(["app.test"], ["*.app.test"])
    assert names == ("localhost", "127.0.0.1", "::1", "app.test", "*.app.test")
    cert, key = ca.leaf(names, "/srv/site/gateway.toml")
    assert key.stat().st_mode & 0o777 == 0o600
    context = CertificateSet([Served(cert, key, names)]).default
    # A client trusting only the CA accepts the leaf for each name, hostname check on.
    for name in ("localhost", "app.test", "api.app.test"):
        assert handshake_name(context, ca.cert_path, name)
    first = serial(cert)
    assert serial(ca.leaf(names, "/srv/site/gateway.toml")[0]) == first  # reused
    assert serial(ca.leaf((*names, "new.test"), "/srv/site/gateway.toml")[0]) != first
    second = serial(cert)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=340)
    assert serial(ca.leaf((*names, "new.test"), "/srv/site/gateway.toml", now=later)[0]) != second


def test_leaf_verifies_with_hostname_check(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "ca")
    cert, key = ca.leaf(leaf_names([]))
    server = CertificateSet([Served(cert, key, ())]).default
    for name in ("localhost", "127.0.0.1", "::1"):
        assert handshake_name(server, ca.cert_path, name, check_hostname=True)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake_name(server, ca.cert_path, "example.com", check_hostname=True)


def test_trust_text(tmp_path: Path) -> None:
    lines: list[str] = []
    assert trust_command(ca_dir=tmp_path / "ca", out=lines.append) == 0
    text = lines[0]
    assert f"export SSL_CERT_FILE={tmp_path / 'ca' / 'ca.pem'}" in text
    assert "certutil -d sql:$HOME/.pki/nssdb" in text
    assert "sudo gateway trust --install" in text


def test_install_system(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "ca")
    ca.ensure()
    ran: list[list[str]] = []

    def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        ran.append(args)
        return subprocess.CompletedProcess(args, 0)

    if os.geteuid() != 0:
        with pytest.raises(PermissionError, match="needs root"):
            install_system(ca, tmp_path / "store", run)
        return
    if not Path("/usr/sbin/update-ca-certificates").exists():
        pytest.skip("update-ca-certificates is not installed")
    message = install_system(ca, tmp_path / "store", run)
    installed = tmp_path / "store" / "gateway-local-ca.crt"
    assert installed.read_bytes() == ca.cert_path.read_bytes()
    assert ran[0][0].endswith("update-ca-certificates") and "installed" in message
