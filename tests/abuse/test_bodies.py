"""Request bodies are bounded in total, not only one by one (issue 10, item 3): a body over
[server] body_buffer_size goes to a temporary file as it arrives, the bytes a worker is
receiving at once are bounded by body_budget (past it: 503), and the budget comes back when
a body is done, answered with an error, or abandoned by its client."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from gateway.errors import HTTPError
from gateway.server.bodies import BodyBudget, BodyReader, SpooledBody
from tests.support import ResponseReader, connect, running_server, wait_for, write_site

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    body_buffer_size = "64KiB"
    body_budget = "200KiB"
    max_body_bytes = "4MiB"

    [[route]]
    path = "/upload"
    methods = ["POST"]
    handler = "api.h:upload"
    inline = true  # on the loop: its body is read (and spooled) first, never streamed
"""

HANDLERS = """
    import hashlib

    def upload(request):
        digest = hashlib.sha256()
        pieces = 0
        for chunk in request.stream():
            digest.update(chunk)
            pieces += 1
        return {
            "kind": type(request).__name__,
            "length": request.body_length,
            "pieces": pieces,
            "sha256": digest.hexdigest(),
        }
"""


class Spec:
    body_buffer_size = 10
    min_body_rate = 0
    min_body_rate_grace = 5.0


def test_a_body_over_the_buffer_size_goes_to_a_file_and_returns_its_budget() -> None:
    budget = BodyBudget(100)
    reader = BodyReader(0.0, budget)
    for piece in (b"abcdef", b"ghijkl", b"mn"):
        reader.add(piece, 0.0, Spec())
    assert reader.file is not None and not reader.chunks  # spooled past 10 bytes
    assert budget.held == 14
    body = reader.take()
    assert isinstance(body, SpooledBody) and budget.held == 0
    assert body.whole() == b"abcdefghijklmn" and b"".join(body.chunks()) == body.whole()
    body.close()
    small = BodyReader(0.0, budget)
    small.add(b"tiny", 0.0, Spec())
    assert small.take() == b"tiny" and budget.held == 0


def test_over_the_budget_is_refused_and_a_drop_gives_it_back() -> None:
    budget = BodyBudget(10)
    reader = BodyReader(0.0, budget)
    reader.add(b"x" * 8, 0.0, Spec())
    other = BodyReader(0.0, budget)
    with pytest.raises(HTTPError) as refused:
        other.add(b"y" * 8, 0.0, Spec())
    assert refused.value.status == 503
    reader.drop()
    assert budget.held == 0


def test_large_uploads_are_spooled_and_read_back_whole(tmp_path: Path) -> None:
    data = os.urandom(150 * 1024)
    with running_server(write_site(tmp_path, SITE, {"api/h.py": HANDLERS})) as running:
        with httpx.Client(base_url=running.url, timeout=10) as client:
            big = client.post("/upload", content=data).json()
            assert big["kind"] == "BodyRequest" and big["length"] == len(data)
            assert big["pieces"] > 1  # read back from the file in pieces
            assert big["sha256"] == hashlib.sha256(data).hexdigest()
            small = client.post("/upload", content=b"hello").json()
            assert small["kind"] == "Request" and small["pieces"] == 1
            chunked = client.post("/upload", content=iter([data[:70000], data[70000:]])).json()
            assert chunked["length"] == len(data) and chunked["kind"] == "BodyRequest"
        assert running.server.ctx.bodies.held == 0


def test_bodies_past_the_worker_budget_get_503_until_others_finish(tmp_path: Path) -> None:
    head = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
    with running_server(write_site(tmp_path, SITE, {"api/h.py": HANDLERS})) as running:
        held = running.server.ctx.bodies
        first = connect(running.port)
        first.sendall(head % (150 * 1024) + b"a" * (120 * 1024))  # 120 of 200 KiB, held
        wait_for(lambda: held.held == 120 * 1024)
        with connect(running.port) as second:
            second.sendall(head % (100 * 1024) + b"b" * (100 * 1024))
            answer = ResponseReader(second).read()
            assert answer.status == 503
            assert b"receiving other request bodies" in answer.body
        wait_for(lambda: held.held == 120 * 1024)  # the refused one gave its share back
        first.close()  # a client that leaves mid-body gives its share back too
        wait_for(lambda: held.held == 0)
        with connect(running.port) as third:
            third.sendall(head % (100 * 1024) + b"c" * (100 * 1024))
            assert ResponseReader(third).read().status == 200
