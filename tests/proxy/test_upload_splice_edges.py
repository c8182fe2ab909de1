"""Uploads that must stay on the copied path (gateway.proxy.upsplice does not take them):
a chunked body, a TLS upstream, a TLS client."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from gateway.proxy import zerocopy
from tests.proxy.support import origin_proxied
from tests.proxy.test_upload_splice import BODY, SIZE, Sink, expected_answer, read_answer
from tests.proxy.upstream import Origin
from tests.support import running_server, write_site


def test_a_chunked_upload_is_copied(tmp_path: Path, uploads: list[zerocopy.BodySplice]) -> None:
    def chunked_origin(conn: socket.socket) -> None:
        data = b""
        while not data.endswith(b"0\r\n\r\n"):
            data += conn.recv(1 << 20)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%d" % (len(str(len(data))), len(data))
        )

    with (
        origin_proxied(tmp_path, chunked_origin) as (port, _),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        got = client.put("/up", content=iter([BODY[: SIZE // 2], BODY[SIZE // 2 :]]))
        assert got.status_code == 200 and int(got.text) > SIZE  # chunked, framing and all
        assert not uploads  # no length to splice


pytest.importorskip("cryptography", reason="the tls extra")
from gateway.tls.localca import LocalCA  # noqa: E402


def test_an_upload_to_a_tls_upstream_is_copied(
    tmp_path: Path, uploads: list[zerocopy.BodySplice]
) -> None:
    from tests.proxy.test_tls_upstream import site, tls_upstream

    with tls_upstream(tmp_path) as (up, ca, _names):
        table = f'[upstream.api]\nservers = ["https://localhost:{up.port}"]\nca = "{ca}"'
        with running_server(site(tmp_path, table)) as running:
            body = BODY[: 512 * 1024]
            got = httpx.put(f"{running.url}/up", content=body, timeout=10)
            assert got.status_code == 200 and got.json()["body"] == body.decode("latin-1")
            assert not uploads  # through the cipher, never spliced


@contextmanager
def tls_gateway(tmp_path: Path, upstream_port: int) -> Iterator[tuple[int, int, ssl.SSLContext]]:
    """`gateway serve` in a thread with [tls] (a certificate from a local CA) proxying every
    path to upstream_port: its plain port (redirecting to https), its TLS port, and a client
    context trusting the CA."""
    from gateway.app import build_app
    from gateway.config.load import load_config
    from gateway.server.serve import Server
    from gateway.tls.serving import TlsServing, build_site
    from tests.tls.pebble import free_port

    ca = LocalCA(tmp_path / "ca")
    cert, key = ca.leaf(("localhost", "127.0.0.1"))
    config = write_site(
        tmp_path / "site",
        f"""
        [server]
        access_log = "off"

        [tls]
        listen = "127.0.0.1:{free_port()}"
        certificates = [{{ cert = "{cert}", key = "{key}" }}]

        [[route]]
        path = "/{{rest:path}}"
        methods = ["*"]
        proxy = "http://127.0.0.1:{upstream_port}"
        """,
    )
    app = build_app(load_config(config))
    server = Server(app, listen=["127.0.0.1:0"])
    tls = TlsServing(server, build_site(app.config), renew=False)
    plain, secure = server.listen(["127.0.0.1:0"])
    tls.bound([secure])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        context = ssl.create_default_context(cafile=str(ca.cert_path))
        yield int(plain.rsplit(":", 1)[1]), int(secure.rsplit(":", 1)[1]), context
    finally:
        server.request_shutdown()
        thread.join(15)


def test_an_upload_from_a_tls_client_is_copied(
    tmp_path: Path, uploads: list[zerocopy.BodySplice]
) -> None:
    sink = Sink()
    origin = Origin(sink)
    with (
        tls_gateway(tmp_path, origin.port) as (_, port, context),
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        sock.sendall(b"PUT /up HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % SIZE + BODY)
        assert read_answer(sock, bytearray())[1] == expected_answer(BODY)
        assert sink.bodies == [BODY] and not uploads  # the bytes passed the cipher
    origin.close()


def test_a_plain_upload_to_a_tls_site_is_redirected_not_proxied(tmp_path: Path) -> None:
    """[tls] sends plain-HTTP requests to https: one with a body for a proxy route too
    (it used to be proxied from its head, redirect skipped)."""
    sink = Sink()
    origin = Origin(sink)
    with (
        tls_gateway(tmp_path, origin.port) as (port, _, _),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        for length in (5, SIZE):
            sock.sendall(
                b"POST /up HTTP/1.1\r\nhost: localhost\r\ncontent-length: %d\r\n\r\n" % length
                + BODY[:length]
            )
            head, _ = read_answer(sock, bytearray())
            assert head.startswith(b"HTTP/1.1 308") and b"location: https://localhost" in head
        assert origin.accepted == 0 and not sink.bodies
    origin.close()
