"""The response cache and Accept-Encoding (server/responses.py): every browser sends it, so
a head carrying it is kept when its answer cannot depend on it (no coding possible for the
file's type or size, no precompressed siblings, a small fixed body), and a fixed route's
compressed answer is kept per head (so per Accept-Encoding) too; a file's answer that can
depend on it (Vary: Accept-Encoding, or encoded) never is. A hit gives the bytes the long
way gives; a compressed variant that appears later is picked up."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from gateway.app import build_app
from gateway.compress import apply
from gateway.compress.codecs import decompress_body
from gateway.config.load import load_config
from gateway.server import h1answers
from gateway.server.responses import MAX_BODY, MAX_SHARED
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

    [[route]]
    path = "/page"
    respond = { body = "%s", content_type = "text/plain" }

    [[route]]
    path = "/huge"
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
# Over MAX_BODY plain and compressed (54 KB; 28 KB gzip, 28 KB zstd, 18 KB br), under MAX_SHARED
PAGE = "".join(f"{(i * 2654435761) % 2**32:08x} " for i in range(6000))
HUGE = PAGE * 2  # over MAX_SHARED plain


@pytest.fixture
def server(site):
    return site(
        SITE % (BIG, PAGE, HUGE),
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


class Counted:
    """Counts the long way's work for a test: Requests built (a cache hit builds none) and
    bodies handed to compression (apply.MEMO.compress: a hit compresses nothing)."""

    def __init__(self, monkeypatch) -> None:
        self.requests = self.compressions = 0
        real_build, real_memo = h1answers.build_request, apply.MEMO

        def build(*args):
            self.requests += 1
            return real_build(*args)

        class Memo:
            def compress(_memo, coding, level, body):  # `self` is the Counted
                self.compressions += 1
                return real_memo.compress(coding, level, body)

        monkeypatch.setattr(h1answers, "build_request", build)
        monkeypatch.setattr(apply, "MEMO", Memo())


def head_with(path: str, accept_encoding: str | None) -> bytes:
    line = b"" if accept_encoding is None else b"Accept-Encoding: %s\r\n" % accept_encoding.encode()
    return b"GET %s HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n%s\r\n" % (path.encode(), line)


def decoded(answer) -> bytes:
    coding = answer.headers.get("content-encoding")
    return answer.body if coding is None else decompress_body(coding, answer.body)


def without_date(answer) -> dict[str, str]:
    return {name: value for name, value in answer.headers.items() if name != "date"}


def test_a_compressed_fixed_answer_is_kept_and_sent_again_without_compressing(
    server, ask, monkeypatch
):
    """A respond route's compressed answer is the same bytes for the same head in one app
    (Vary: Accept-Encoding says so, and the whole head, Accept-Encoding too, is the key):
    an identical browser head is a hit, with no Request built and nothing compressed."""
    counted = Counted(monkeypatch)
    before = hits(server)
    answers = [ask("/big") for _ in range(4)]
    first = answers[0]
    assert first.headers["content-encoding"] in ("gzip", "br", "zstd")
    assert "accept-encoding" in first.headers["vary"].lower()
    assert all((without_date(a), a.body) == (without_date(first), first.body) for a in answers)
    assert decoded(first) == BIG.encode()
    long_way = counted.requests  # 1; 2 when a Date second rolled over between two of them
    assert 1 <= long_way <= 2
    # (a hit is counted just after its bytes are sent: poll)
    wait_for(lambda: hits(server) - before == 4 - long_way, timeout=5)
    assert counted.compressions == long_way  # a hit compresses nothing


def test_another_accept_encoding_gets_its_own_kept_answer(server, monkeypatch):
    codings = {"gzip": "gzip", "zstd": "zstd", "br": "br", None: None, "identity": None}
    with connect(server.port) as sock:
        reader = ResponseReader(sock)

        def ask(accept_encoding: str | None):
            sock.sendall(head_with("/big", accept_encoding))
            return reader.read()

        before = hits(server)
        for _ in range(2):  # interleaved: each head keeps its own entry
            for accept_encoding, coding in codings.items():
                answer = ask(accept_encoding)
                assert answer.headers.get("content-encoding") == coding, accept_encoding
                assert answer.headers["vary"].lower() == "accept-encoding"
                assert decoded(answer) == BIG.encode()
    wait_for(
        lambda: hits(server) - before >= len(codings) - 1, timeout=5
    )  # (a Date second may roll over once; a hit is counted after its send)


def test_a_new_config_replaces_a_kept_compressed_answer(server, tmp_path):
    with connect(server.port) as sock:
        reader = ResponseReader(sock)

        def ask():
            sock.sendall(head_with("/big", "gzip"))
            return reader.read()

        assert decoded(ask()) == decoded(ask()) == BIG.encode()
        config = tmp_path / "gateway.toml"
        config.write_text(config.read_text().replace("a fixed answer", "a new answer"))
        app = build_app(load_config(config))
        server.server.loop.call_soon_threadsafe(lambda: server.server.swap_app(app))
        new = BIG.replace("a fixed answer", "a new answer").encode()
        answer = wait_for(
            lambda: (a := ask()).headers["content-encoding"] and decoded(a) == new and a
        )
        assert answer.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("accept_encoding", ["gzip", "zstd", "br", None])
def test_a_larger_fixed_answer_is_kept_by_reference(server, monkeypatch, accept_encoding):
    """A fixed body over MAX_BODY (plain, or compressed) is kept too, by reference: a hit
    sends the same bytes as the long way."""
    counted = Counted(monkeypatch)
    before = hits(server)
    with connect(server.port) as sock:
        reader = ResponseReader(sock)
        answers = []
        for _ in range(4):
            sock.sendall(head_with("/page", accept_encoding))
            answers.append(reader.read())
    first = answers[0]
    assert first.headers.get("content-encoding") == accept_encoding
    assert MAX_BODY < len(first.body) <= MAX_SHARED
    assert all((without_date(a), a.body) == (without_date(first), first.body) for a in answers)
    assert decoded(first) == PAGE.encode()
    long_way = counted.requests  # 1; 2 when a Date second rolled over between two of them
    assert 1 <= long_way <= 2
    # (a hit is counted just after its bytes are sent: poll)
    wait_for(lambda: hits(server) - before == 4 - long_way, timeout=5)


def test_a_fixed_answer_over_max_shared_goes_the_long_way(server, ask):
    before = hits(server)
    with connect(server.port) as sock:
        reader = ResponseReader(sock)
        for _ in range(3):
            sock.sendall(head_with("/huge", None))
            assert reader.read().body == HUGE.encode()
    assert hits(server) == before
