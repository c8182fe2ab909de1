"""The response parser's head cache: a head seen before (same bytes, same request method,
same limits) is the same parsed ResponseHead; anything else is parsed and checked anew."""

from __future__ import annotations

import pytest

from gateway.errors import ProtocolError
from gateway.http.events import Data, EndOfMessage, ResponseHead
from gateway.http.response import ResponseParser

HEAD = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: "a"\r\n\r\n'


def events(parser: ResponseParser, method: str, data: bytes) -> list[object]:
    parser.expect(method)
    parser.feed(data)
    got = []
    while type(event := parser.next_event()) in (ResponseHead, Data, EndOfMessage):
        got.append(event)
    return got


def test_the_same_head_is_parsed_once_and_the_method_still_counts() -> None:
    one, two = ResponseParser(), ResponseParser()
    first = events(one, "GET", HEAD + b"ok")
    second = events(two, "GET", HEAD + b"ok")
    assert first == second and first[0] is second[0]
    assert [type(e) for e in first] == [ResponseHead, Data, EndOfMessage]
    head_only = events(ResponseParser(), "HEAD", HEAD)  # same bytes, no body for HEAD
    assert [type(e) for e in head_only] == [ResponseHead, EndOfMessage]
    assert head_only[0] is not first[0] and head_only[0].content_length is None


def test_a_head_over_a_smaller_limit_is_refused_though_a_larger_one_took_it() -> None:
    events(ResponseParser(max_header_bytes=4096), "GET", HEAD + b"ok")
    with pytest.raises(ProtocolError):
        events(ResponseParser(max_header_bytes=20), "GET", HEAD + b"ok")
