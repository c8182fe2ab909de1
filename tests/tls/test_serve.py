"""`gateway serve` with a [tls] table, end to end in a subprocess: the local CA's HTTPS with
HSTS, the plain listener's 308 and plain HTTP to the TLS port; ACME against Pebble with
gateway's own plain listener answering HTTP-01. Skipped until [tls] is wired into serve."""

from __future__ import annotations

import os
import ssl
import time
from pathlib import Path

import httpx
import pytest

from gateway.config import load
from tests.tls import pebble as pebble_server
from tests.tls.served import fetch, serving, site

pytestmark = [
    pytest.mark.skipif("tls" not in load.TOP_KEYS, reason="[tls] is not wired into serve yet"),
    pytest.mark.skipif(
        __import__("importlib").util.find_spec("cryptography") is None,
        reason="the tls extra (cryptography) is not installed",
    ),
]


def test_local_ca_redirect_hsts(tmp_path: Path) -> None:
    plain, secure = pebble_server.free_port(), pebble_server.free_port()
    tls = f'[tls]\nlisten = "127.0.0.1:{secure}"\nlocal = {{ ca_dir = "ca" }}\nhsts = "1y"\n'
    config = site(tmp_path, tls, plain)
    with serving(config, secure, tmp_path / "log"):
        verify = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.pem"))
        reply = httpx.get(f"https://localhost:{secure}/", verify=verify, timeout=5)
        assert reply.status_code == 200 and reply.text == "<h1>hello over tls</h1>\n"
        assert reply.headers["strict-transport-security"] == "max-age=31536000"
        plain_reply = httpx.get(f"http://localhost:{plain}/a?b=1", timeout=5)
        assert plain_reply.status_code == 308
        assert plain_reply.headers["location"] == f"https://localhost:{secure}/a?b=1"
        assert "strict-transport-security" not in plain_reply.headers
        wrong = httpx.get(f"http://127.0.0.1:{secure}/", timeout=5)
        assert wrong.status_code == 400 and "speaks https" in wrong.text


@pytest.mark.skipif(not pebble_server.available(), reason="pebble is not installed")
def test_acme_through_gateways_own_plain_listener(tmp_path: Path) -> None:
    pytest.importorskip("acme", reason="the acme extra (acme, josepy) is not installed")
    with pebble_server.running_pebble(tmp_path / "pebble") as pebble:
        secure = pebble_server.free_port()
        tls = (
            f'[tls]\nlisten = "127.0.0.1:{secure}"\n[tls.acme]\ndomains = ["www.gateway.test"]\n'
            f'directory = "{pebble.directory}"\nca_file = "{pebble.ca_file}"\nstorage = "acme"\n'
        )
        config = site(tmp_path, tls, pebble.http_port)
        root = tmp_path / "pebble-root.pem"
        root.write_bytes(pebble.root_pem())
        context = ssl.create_default_context(cafile=str(root))
        with serving(config, secure, tmp_path / "log"):
            deadline = time.monotonic() + 20
            answer, last = b"", None
            while time.monotonic() < deadline and not answer:
                try:  # a placeholder certificate until the order completes: retry
                    answer = fetch(secure, context, "www.gateway.test")
                except (ssl.SSLError, OSError) as error:
                    last = error
                    time.sleep(0.1)
        assert answer.startswith(b"HTTP/1.1 200 OK"), (last, (tmp_path / "log").read_text())
        assert answer.endswith(b"<h1>hello over tls</h1>\n")
        assert oct(os.stat(next((tmp_path / "acme").rglob("key.pem"))).st_mode & 0o777) == "0o600"
