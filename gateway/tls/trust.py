"""`gateway trust`: where the local CA is and how to make clients trust it (curl and httpx
through SSL_CERT_FILE, browsers through their stores), and, run as root on Debian with
--install, copying it into the system store with update-ca-certificates."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from gateway.tls.localca import LocalCA

DEBIAN_DIR = Path("/usr/local/share/ca-certificates")
DEBIAN_NAME = "gateway-local-ca.crt"


def trust_text(ca: LocalCA) -> str:
    path = ca.cert_path
    return f"""\
the local CA certificate: {path}
(its key {ca.key_path} never leaves this machine; keep it private)

curl, httpx, requests, Python's ssl and most command-line tools:
    export SSL_CERT_FILE={path}            # this CA only
    curl --cacert {path} https://localhost:8443/
Node.js:
    export NODE_EXTRA_CA_CERTS={path}
Chrome and Chromium on Linux (certutil from libnss3-tools):
    certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n "gateway local CA" -i {path}
Firefox: Settings > Privacy & Security > Certificates > View Certificates > Authorities >
    Import {path}, and tick "Trust this CA to identify websites"
The whole system (Debian, Ubuntu; then every program that uses the system store):
    sudo gateway trust --install
macOS:
    sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {path}
"""


def install_system(
    ca: LocalCA,
    target_dir: Path = DEBIAN_DIR,
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run,
) -> str:
    """Copy the CA into the Debian system store and run update-ca-certificates. Raises
    PermissionError when not root, FileNotFoundError when the tool is missing."""
    if os.geteuid() != 0:
        raise PermissionError("installing into the system store needs root: run it with sudo")
    tool = shutil.which("update-ca-certificates")
    if tool is None:
        raise FileNotFoundError(
            "update-ca-certificates not found: this is not Debian or Ubuntu, so install"
            f" {ca.cert_path} by hand (see `gateway trust`)"
        )
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / DEBIAN_NAME
    shutil.copyfile(ca.cert_path, target)
    target.chmod(0o644)
    run([tool], check=True, capture_output=True)
    return f"installed {target} and ran update-ca-certificates"


def trust_command(
    install: bool = False, ca_dir: Path | None = None, out: Callable[[str], None] = print
) -> int:
    """The body of `gateway trust [--install]`; returns the exit status."""
    ca = LocalCA(ca_dir)
    ca.ensure()
    if not install:
        out(trust_text(ca))
        return 0
    try:
        out(install_system(ca))
    except (PermissionError, FileNotFoundError, subprocess.CalledProcessError) as error:
        out(f"gateway trust: {error}")
        return 1
    return 0
