"""https upstreams through `gateway serve`: a local TLS upstream whose certificate comes
from a local CA (gateway.tls.localca): `ca` trusts it, the server name goes as SNI and is
checked against the certificate; the system's trust store refuses it (502, the reason
named, and the upstream told by a TLS alert); `verify = false` accepts it; the url shorthand
takes https://; health checks speak TLS too."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.proxy.upstream import Upstream, upstream
from tests.support import running_server, write_site

pytest.importorskip("cryptography", reason="the tls extra")
from gateway.tls.localca import LocalCA


@contextmanager
def tls_upstream(tmp_path: Path) -> Iterator[tuple[Upstream, Path, list[str | None]]]:
    """The echo upstream behind TLS with a localhost certificate from a fresh local CA;
    yields it, the CA's PEM file and the SNI names its handshakes got."""
    ca = LocalCA(tmp_path / "ca")
    cert, key = ca.leaf(("localhost", "127.0.0.1"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,func-returns-value]
    with upstream() as up:
        up.socket = context.wrap_socket(up.socket, server_side=True)
        yield up, ca.cert_path, names


def site(tmp_path: Path, upstream_table: str) -> Path:
    return write_site(
        tmp_path / "site",
        f"""
        [server]
        access_log = "off"

        {upstream_table}

        [[route]]
        path = "/{{rest:path}}"
        methods = ["*"]
        proxy = {{ upstream = "api" }}
        """,
    )


def test_an_https_upstream_trusted_by_ca_gets_sni_and_answers(tmp_path: Path) -> None:
    with tls_upstream(tmp_path) as (up, ca, names):
        table = f'[upstream.api]\nservers = ["https://localhost:{up.port}"]\nca = "{ca}"'
        with running_server(site(tmp_path, table)) as running:
            got = httpx.post(f"{running.url}/items?x=1", content=b"hello")
            assert got.status_code == 200, got.text
            echoed = got.json()
            assert (echoed["path"], echoed["body"]) == ("/items?x=1", "hello")
            assert httpx.get(f"{running.url}/again").status_code == 200  # pooled, or anew
        assert "localhost" in names


def test_the_system_trust_store_refuses_a_local_ca_certificate(tmp_path: Path) -> None:
    with tls_upstream(tmp_path) as (up, _ca, _names):
        table = f'[upstream.api]\nservers = ["https://127.0.0.1:{up.port}"]'
        with running_server(site(tmp_path, table)) as running:
            got = httpx.get(f"{running.url}/x")
            assert got.status_code == 502
            assert "certificate verify failed" in got.text and "cannot connect" in got.text


def test_a_refused_upstream_certificate_is_told_to_the_upstream_with_an_alert(
    tmp_path: Path,
) -> None:
    # The handshake's alert (unknown_ca) goes out before the close, as any TLS client does:
    # the upstream's log names why, rather than an EOF in the middle of its handshake.
    ca = LocalCA(tmp_path / "ca")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*ca.leaf(("localhost", "127.0.0.1")))
    errors: list[BaseException] = []
    failed = threading.Event()

    def serve(listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the test is over
            with conn:
                conn.settimeout(5)
                try:
                    context.wrap_socket(conn, server_side=True).close()
                except (ssl.SSLError, OSError) as error:
                    errors.append(error)
                    failed.set()

    with socket.create_server(("127.0.0.1", 0)) as listener:
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        port = listener.getsockname()[1]
        table = f'[upstream.api]\nservers = ["https://127.0.0.1:{port}"]'
        with running_server(site(tmp_path, table)) as running:
            got = httpx.get(f"{running.url}/x")
            assert got.status_code == 502 and "certificate verify failed" in got.text
            assert failed.wait(5)
    assert isinstance(errors[0], ssl.SSLError), repr(errors[0])
    assert "ALERT_UNKNOWN_CA" in str(errors[0]).upper(), errors[0]


def test_verify_false_and_tls_true_accept_it(tmp_path: Path) -> None:
    with tls_upstream(tmp_path) as (up, _ca, _names):
        table = f'[upstream.api]\nservers = ["127.0.0.1:{up.port}"]\ntls = true\nverify = false'
        with running_server(site(tmp_path, table)) as running:
            assert httpx.get(f"{running.url}/x").json()["path"] == "/x"


def test_the_shorthand_takes_https_and_checks_speak_tls(tmp_path: Path) -> None:
    with tls_upstream(tmp_path) as (up, ca, _names):
        checked = threading.Event()
        real = type(up).finish_request

        def finish(self: Upstream, request: object, address: object) -> None:
            checked.set()
            real(self, request, address)  # type: ignore[arg-type]

        type(up).finish_request = finish  # type: ignore[method-assign]
        try:
            table = (
                f'[upstream.api]\nservers = ["https://localhost:{up.port}"]\nca = "{ca}"\n'
                'health = { path = "/healthz", interval = "100ms", timeout = "100ms" }'
            )
            with running_server(site(tmp_path, table)):
                assert checked.wait(5)  # a check arrived over TLS (the handshake passed)
        finally:
            type(up).finish_request = real  # type: ignore[method-assign]
    path = write_site(
        tmp_path / "short",
        '[[route]]\npath = "/x"\nproxy = "https://localhost"\n',
    )
    from gateway.config.load import load_config

    route = load_config(path).routes[0]
    assert route.proxy is not None and route.proxy.url is not None
    assert (route.proxy.url.port, route.proxy.url.tls) == (443, True)


def test_a_large_body_from_a_tls_upstream_arrives_whole(tmp_path: Path) -> None:
    # More than both hops' socket buffers hold: backpressure through the TLS layer.
    from tests.proxy.upstream import BIG

    with tls_upstream(tmp_path) as (up, ca, _names):
        table = f'[upstream.api]\nservers = ["https://localhost:{up.port}"]\nca = "{ca}"'
        with (
            running_server(site(tmp_path, table)) as running,
            httpx.stream("GET", f"{running.url}/big", timeout=30) as got,
        ):
            assert got.status_code == 200
            received = 0
            for chunk in got.iter_raw():
                assert set(chunk) == {ord("z")}
                received += len(chunk)
            assert received == BIG


def test_a_ca_file_without_certificates_is_a_config_error(tmp_path: Path) -> None:
    from gateway.config.load import ConfigLoadError, load_config

    (tmp_path / "ca.pem").write_text("not a certificate\n")
    path = write_site(tmp_path, '[upstream.api]\nservers = ["https://h:1"]\nca = "ca.pem"\n')
    with pytest.raises(ConfigLoadError) as caught:
        load_config(path)
    assert "upstream.api.ca:" in str(caught.value) and "no usable PEM certificates" in str(
        caught.value
    )
