"""Streamed request bodies (issue 15): a pooled handler gets a large body as it arrives
(`for chunk in request.stream()`), the client is paused while the handler does not read,
and a handler that answers without reading it all gets its answer out, then the close."""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.server.uploads import ASYNC_STREAMS, HIGH_WATER
from tests.support import ResponseReader, Running, connect, running_server, wait_for, write_site

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    body_buffer_size = "64KiB"
    max_body_bytes = "64MiB"

    [[route]]
    path = "/upload"
    methods = ["POST"]
    handler = "api.h:upload"
    blocking = true

    [[route]]
    path = "/form"
    methods = ["POST"]
    handler = "api.h:form"
    blocking = true

    [[route]]
    path = "/async"
    methods = ["POST"]
    handler = "api.h:aupload"

    [[route]]
    path = "/early"
    methods = ["POST"]
    handler = "api.h:early"
    blocking = true
"""

HANDLERS = """
    import hashlib, threading

    SEEN = []
    GO = threading.Event()

    def upload(request):
        if request.headers.get("x-wait"):
            GO.wait(10)
        digest = hashlib.sha256()
        for chunk in request.stream():
            SEEN.append(len(chunk))
            digest.update(chunk)
        return {"kind": type(request).__name__, "length": request.body_length,
                "sha256": digest.hexdigest()}

    def form(request):
        upload = request.form()["file"]
        return {"title": request.form()["title"], "size": len(upload),
                "on_disk": upload.file._rolled, "sha256": hashlib.sha256(upload.data).hexdigest()}

    async def aupload(request):
        digest, pieces = hashlib.sha256(), 0
        async for chunk in request.stream():
            SEEN.append(len(chunk))
            digest.update(chunk)
            pieces += 1
        return {"kind": type(request.request).__name__, "pieces": pieces,
                "sha256": digest.hexdigest()}

    def early(request):
        return "not interested"
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    with running_server(write_site(tmp_path, SITE, {"api/h.py": HANDLERS})) as running:
        yield running


def _module(running: Running):  # the site's handler module, for what the handler saw
    return sys.modules[f"{running.server.app.modules.package}.api.h"]


def test_the_handler_reads_the_body_while_it_arrives(server: Running) -> None:
    first, rest = b"a" * (100 * 1024), b"b" * (50 * 1024)
    with connect(server.port) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (150 * 1024)
        )
        sock.sendall(first)
        # The handler has the first part before the client has sent the rest.
        wait_for(lambda: sum(_module(server).SEEN) == len(first))
        sock.sendall(rest)
        answer = ResponseReader(sock).read()
    assert answer.status == 200
    assert b'"kind":"BodyRequest"' in answer.body.replace(b" ", b"")
    assert hashlib.sha256(first + rest).hexdigest().encode() in answer.body


def test_the_client_is_paused_while_the_handler_does_not_read(server: Running) -> None:
    size = 16 << 20
    result: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=server.url, timeout=20) as client:
            result.append(
                client.post(
                    "/upload",
                    content=iter([b"x" * 65536] * (size // 65536)),
                    headers={"x-wait": "1"},
                )
            )

    sender = threading.Thread(target=send)
    sender.start()
    try:

        def paused() -> bool:
            conns = [c for c in server.server.conns if c._upload is not None]
            return bool(conns) and not conns[0].transport.is_reading()

        wait_for(paused)
        upload = next(c._upload for c in server.server.conns if c._upload is not None)
        assert upload is not None and upload._unread < HIGH_WATER + 2 * 65536
    finally:
        _module(server).GO.set()
        sender.join(20)
    assert result and result[0].status_code == 200
    assert result[0].json()["length"] == size


def test_small_bodies_take_the_usual_path(server: Running) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post("/upload", content=b"hello").json()["kind"] == "Request"


def test_an_answer_before_the_body_ends_closes_the_connection(server: Running) -> None:
    with connect(server.port) as sock:
        sock.sendall(b"POST /early HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
        sock.sendall(b"z" * 100000)
        answer = ResponseReader(sock).read()
        assert answer.status == 200 and answer.body == b"not interested"
        assert answer.headers.get("connection") == "close"


def test_a_large_multipart_file_is_spooled_to_disk(server: Running) -> None:
    data = bytes(range(256)) * (8 * 1024)  # 2 MiB: over the 1 MiB spooling threshold
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.post("/form", data={"title": "t"}, files={"file": ("a.bin", data)})
    assert answer.json() == {
        "title": "t",
        "size": len(data),
        "on_disk": True,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@pytest.mark.skipif(
    not ASYNC_STREAMS, reason="needs reports/abuse2-asynccall.patch (AsyncCall.streams_bodies)"
)
def test_an_async_handler_reads_the_body_while_it_arrives(server: Running) -> None:
    first, rest = b"a" * (100 * 1024), b"b" * (50 * 1024)
    with connect(server.port) as sock:
        sock.sendall(
            b"POST /async HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (150 * 1024)
        )
        sock.sendall(first)
        wait_for(lambda: sum(_module(server).SEEN) == len(first))  # before the rest is sent
        sock.sendall(rest)
        answer = ResponseReader(sock).read()
    assert answer.status == 200
    assert b"BodyRequest" in answer.body
    assert hashlib.sha256(first + rest).hexdigest().encode() in answer.body


def test_an_async_handler_gets_a_large_body_whole_or_streamed(server: Running) -> None:
    data = b"q" * (200 * 1024)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.post("/async", content=data).json()
    assert answer["sha256"] == hashlib.sha256(data).hexdigest()
    assert answer["kind"] == "BodyRequest"  # spooled (before the patch) or streamed
