"""The response cache and Accept-Encoding (server/responses.py): every browser sends it, so
a head carrying it is kept when its answer cannot depend on it (no coding possible for the
file's type or size, no precompressed siblings, a small fixed body), and never when it can
(the answer says Vary: Accept-Encoding, or is encoded). A hit gives the bytes the long way
gives; a compressed variant that appears later is picked up."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.support import ResponseReader, connect, wait_for

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [[static]]
    prefix = "/"
    dir = "public"

    [[static]]
    prefix = "/pre"
    dir = "pre"
    precompressed = ["gzip"]

    [[route]]
    path = "/fixed"
    respond = { json = { hello = "w" } }

    [[route]]
    path = "/big"
    respond = { body = "%s", content_type = "text/plain" }
"""
BROWSER = (
    b"GET %s HTTP/1.1\r\nHost: x\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0\r\n"
    b"Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\nConnection: keep-alive\r\n\r\n"
)
TEXT = "".join(f"line {i} of a compressible page\n" for i in range(200))  # ~6 KiB
BIG = "a fixed answer worth compressing " * 100  # over min_size


@pytest.fixture
def server(site):
    return site(
        SITE % BIG,
        {
            "public/a.bin": b"\x00\x01" * 600,  # not a compressible type
            "public/small.txt": "tiny\n",  # under min_size
            "public/page.txt": TEXT,  # compressible: its answer varies
            "pre/app.js": "console.log('plain');\n" * 60,
        },
    )


@pytest.fixture
def ask(server):
    with connect(server.port) as sock:
        reader = ResponseReader(sock)

        def ask(path: str):
            sock.sendall(BROWSER % path.encode())
            return reader.read()

        yield ask


def hits(server) -> int:
    return server.server.ctx.responses.hits


@pytest.mark.parametrize("path", ["/a.bin", "/small.txt", "/fixed"])
def test_a_browser_head_hits_when_the_answer_cannot_vary(server, ask, path):
    first = ask(path)  # the long way
    assert first.status == 200 and "vary" not in first.headers
    before = hits(server)
    again = [ask(path) for _ in range(3)]
    assert all((a.raw_head, a.body) == (first.raw_head, first.body) for a in again)
    assert hits(server) > before  # (a Date second may roll over between two of them)


def test_an_answer_that_varies_is_negotiated_every_time(server, ask):
    before = hits(server)
    answers = [ask("/page.txt") for _ in range(4)]
    assert hits(server) == before
    assert all(a.headers["vary"].lower() == "accept-encoding" for a in answers)
    for answer in answers:  # plain until the variant is made, then encoded
        coding = answer.headers.get("content-encoding")
        body = answer.body if coding is None else None
        if coding == "gzip":
            body = gzip.decompress(answer.body)
        if body is not None:
            assert body == TEXT.encode()


def test_a_precompressed_sibling_that_appears_later_is_picked_up(server, ask, tmp_path: Path):
    first = ask("/pre/app.js")
    assert "content-encoding" not in first.headers
    ask("/pre/app.js")
    plain = (tmp_path / "pre" / "app.js").read_bytes()
    (tmp_path / "pre" / "app.js.gz").write_bytes(gzip.compress(plain))
    answer = wait_for(lambda: (a := ask("/pre/app.js")).headers.get("content-encoding") and a)
    assert answer.headers["content-encoding"] == "gzip"
    assert gzip.decompress(answer.body) == plain


def test_a_compressed_fixed_answer_is_negotiated_every_time(server, ask):
    """A fixed route's compressed answer says Vary: Accept-Encoding: the long way each
    time (its body is compressed once, by the compression memo), the same bytes."""
    first = ask("/big")
    assert first.headers["content-encoding"] in ("gzip", "br", "zstd")
    assert "accept-encoding" in first.headers["vary"].lower()
    before = hits(server)
    again = [ask("/big") for _ in range(3)]
    assert hits(server) == before
    assert all(a.body == first.body for a in again)
