"""Issue 9, "Error responses to HEAD carry a body": wherever the method is known, the error
answer to a HEAD is the head only (RFC 9110 §9.3.2), whether the request could not be
read (bad target, bad header, body over the limit, bad Expect or Transfer-Encoding) or the
app answered it. Raw sockets: these requests are what a client library would not send."""

from __future__ import annotations

import pytest

from tests.support import exchange

SITE = """
    [server]
    access_log = "off"
    max_body_bytes = "1KB"

    [[route]]
    path = "/api"
    methods = ["GET", "HEAD", "POST"]
    respond = { status = 200, body = "ok" }
"""

BAD_HEADS = {
    "bad target": b"HEAD /%zz HTTP/1.1\r\nHost: t\r\n\r\n",
    "bad header": b"HEAD /api HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n",
    "body over the limit": b"HEAD /api HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n",
    "unknown expectation": b"HEAD /api HTTP/1.1\r\nHost: t\r\nExpect: nope\r\n\r\n",
    "unknown coding": b"HEAD /api HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "no such route": b"HEAD /missing HTTP/1.1\r\nHost: t\r\n\r\n",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from tests.support import running_server, write_site

    config = write_site(tmp_path_factory.mktemp("head"), SITE)
    with running_server(config) as running:
        yield running


@pytest.mark.parametrize("name", list(BAD_HEADS))
def test_a_head_request_error_has_no_body(server, name: str) -> None:
    reply = exchange(server.port, BAD_HEADS[name])
    head, sep, body = reply.partition(b"\r\n\r\n")
    assert sep, reply
    status = int(head.split(b" ", 2)[1])
    assert 400 <= status < 600, head
    assert body == b"", f"{name}: {body!r}"
    # The head still says what GET would get: its content-length is the text's length.
    assert b"content-length: " in head.lower()


def test_the_same_errors_to_get_keep_their_text(server) -> None:
    reply = exchange(server.port, BAD_HEADS["bad target"].replace(b"HEAD", b"GET", 1))
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert reply.partition(b"\r\n\r\n")[2]
