"""RequestParser.body_left / body_skipped: a Content-Length body whose bytes partly went
around the parser (a spliced upload, gateway.proxy.upsplice). Byte vectors whole and byte by
byte, with the next request behind the body."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ProtocolError
from gateway.http.events import NEED_DATA, PAUSED, Data, EndOfMessage, RequestHead
from gateway.http.parser import RequestParser

HEAD = b"PUT /up HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\nhost: x\r\n\r\n"


def events(parser: RequestParser) -> list[Any]:
    out = []
    while (event := parser.next_event()) not in (NEED_DATA, PAUSED):
        out.append(event)
    return out


@pytest.mark.parametrize("by_byte", [False, True], ids=["whole", "byte-by-byte"])
def test_the_parser_skips_body_bytes_that_went_around_it(by_byte: bool) -> None:
    parser = RequestParser()
    first = HEAD + b"a" * 100
    for piece in [first[i : i + 1] for i in range(len(first))] if by_byte else [first]:
        parser.feed(piece)
        got = events(parser)
        assert all(type(e) in (RequestHead, Data) for e in got)
    assert parser.body_left() == 900 and parser.in_message
    parser.body_skipped(600)  # spliced: never fed
    assert parser.body_left() == 300 and parser.next_event() is NEED_DATA
    parser.feed(b"b" * 300 + NEXT)  # the rest of the body, then the next request
    assert parser.body_left() == 0  # bytes wait unparsed: nothing may go around now
    assert [type(e) for e in events(parser)] == [Data, EndOfMessage]
    parser.start_next()
    head = parser.next_event()
    assert isinstance(head, RequestHead) and head.target == "/next"


def test_skipping_the_whole_rest_ends_the_body() -> None:
    parser = RequestParser()
    parser.feed(HEAD)
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.body_left() == 1000
    parser.body_skipped(1000)
    assert isinstance(parser.next_event(), EndOfMessage)
    parser.feed(NEXT)
    parser.start_next()
    assert isinstance(parser.next_event(), RequestHead)


def test_nothing_may_go_around_a_chunked_body_or_past_the_length() -> None:
    parser = RequestParser()
    parser.feed(b"PUT / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
    assert [type(e) for e in events(parser)] == [RequestHead, Data]
    assert parser.body_left() == 0
    with pytest.raises(RuntimeError, match="past the"):
        parser.body_skipped(1)
    idle = RequestParser()
    assert idle.body_left() == 0  # no request at all
    over = RequestParser(max_body_bytes=10)
    over.feed(HEAD)
    over.next_event()  # the head is emitted, the 413 comes next
    assert over.body_left() == 0
    with pytest.raises(ProtocolError):
        over.next_event()
