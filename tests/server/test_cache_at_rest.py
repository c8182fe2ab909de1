"""The response cache's hot path (HttpProtocol._answer_at_rest): a connection at rest whose
bytes are one whole head seen before is answered without feeding its parser, and the head
and file go straight to the socket (SocketTransport.send_file_now). What the socket does
not take at once is queued as usual; anything else goes the long way, with the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.server.responses import MAX_BODY
from tests.support import ResponseReader, connect, wait_for

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [[static]]
    prefix = "/"
    dir = "public"
"""
BIG = 5 * 1024 * 1024 + 7  # past one sendfile call (SENDFILE_CHUNK): the rest is queued
HEAD = b"GET %s HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n"


def _body(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + b"z" * (size % 256)


@pytest.fixture
def server(site):
    files = {"public/a.txt": "first version\n", "public/big.bin": _body(BIG)}
    for size in (0, MAX_BODY, MAX_BODY + 1):  # kept with its head up to MAX_BODY
        files[f"public/{size}.bin"] = _body(size)
    return site(SITE, files)


def hits(server) -> int:
    return server.server.ctx.responses.hits


def test_a_file_larger_than_one_send_is_sent_whole_from_the_cache(server):
    with connect(server.port) as sock:
        reader = ResponseReader(sock)
        answers = []
        for _ in range(3):
            sock.sendall(HEAD % b"/big.bin")
            answers.append(reader.read())
        sock.sendall(HEAD % b"/a.txt")  # the connection goes on after the queued rest
        assert reader.read().body == b"first version\n"
    assert hits(server) >= 1
    assert {a.raw_head for a in answers} == {answers[0].raw_head}
    assert all(a.body == _body(BIG) for a in answers)


@pytest.mark.parametrize("size", [0, MAX_BODY, MAX_BODY + 1])
def test_small_files_kept_with_their_head_and_larger_ones_sent_from_the_file(
    server, tmp_path: Path, size
):
    path = tmp_path / "public" / f"{size}.bin"
    with connect(server.port) as sock:
        reader = ResponseReader(sock)
        for _ in range(3):
            sock.sendall(HEAD % f"/{size}.bin".encode())
            assert reader.read().body == _body(size)
        path.write_bytes(b"x" * (size + 1))  # a new size: seen at once
        sock.sendall(HEAD % f"/{size}.bin".encode())
        assert reader.read().body == b"x" * (size + 1)


def test_a_head_in_pieces_or_with_a_pipelined_one_gets_the_same_bytes(server):
    head = HEAD % b"/a.txt"
    with connect(server.port) as sock:
        reader = ResponseReader(sock)
        sock.sendall(head)
        first = reader.read()
        sock.sendall(head)  # at rest, whole: from the cache
        whole = reader.read()
        sock.sendall(head[:10])
        sock.sendall(head[10:])  # (may arrive in one read or two)
        pieces = reader.read()
        sock.sendall(head + head)  # two at once: the long way, in order
        pipelined = [reader.read(), reader.read()]
    for answer in (whole, pieces, *pipelined):
        assert (answer.raw_head, answer.body) == (first.raw_head, first.body)


def test_a_get_with_a_chunked_body_is_never_kept(server, tmp_path: Path):
    """Its empty body's last chunk may come in a later read than its head: a kept answer
    sent for the head alone would leave it to be read as the next request."""
    head = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with connect(server.port) as sock:
        reader = ResponseReader(sock)
        for _ in range(3):
            sock.sendall(head + b"0\r\n\r\n")
            assert reader.read().body == b"first version\n"
        before = hits(server)
        sock.sendall(head)
        sock.sendall(b"0\r\n\r\n")
        sock.sendall(HEAD % b"/a.txt")
        assert reader.read().body == b"first version\n"
        assert reader.read().body == b"first version\n"
    assert hits(server) == before


def test_an_idle_connection_after_a_hit_holds_no_output_list_or_bound_method(server):
    """Issue 10, item 8: what an idle keep-alive connection keeps is small. A hit at rest
    sends without the output list; the selector's key holds the transport itself; the
    client's host string is shared by its connections."""
    socks: list = []
    try:
        for _attempt in range(5):  # again if a new Date second sent one the long way
            date = server.server.ctx.writer.date
            socks = _three_idle_after_hits(server, socks)
            if server.server.ctx.writer.date is date:
                break
        conns = list(server.server.conns)
        assert len(conns) == 3
        assert len({id(conn.client[0]) for conn in conns}) == 1
        selector = server.server.loop.selector
        for conn in conns:
            transport = conn.transport
            assert selector.get_key(transport._sock).data is transport
            assert transport._out == ()  # the shared empty one, not a list of its own
    finally:
        for sock in socks:
            sock.close()


def _three_idle_after_hits(server, old: list) -> list:
    for sock in old:
        sock.close()
    head = HEAD % b"/a.txt"
    with connect(server.port) as sock:  # the long way once: the answer is kept
        sock.sendall(head)
        ResponseReader(sock).read()
    wait_for(lambda: not server.server.conns)
    socks = [connect(server.port) for _ in range(3)]
    for sock in socks:
        reader = ResponseReader(sock)
        for _ in range(2):
            sock.sendall(head)
            assert reader.read().body == b"first version\n"
    return socks
