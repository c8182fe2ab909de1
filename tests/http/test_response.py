"""The response parser against response_vectors.py, each vector replayed whole, a byte at a
time, in seeded random chunks and followed by the next response's bytes; plus what the
vectors cannot show: 101 and CONNECT handing the connection over, start_next, started."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from gateway.errors import ProtocolError
from gateway.http.events import NEED_DATA, PAUSED, Data, EndOfMessage, ResponseHead
from gateway.http.headers import Headers
from gateway.http.response import ResponseParser
from tests.http.response_vectors import INVALID, VALID, Invalid, Resp, Valid, cl
from tests.http.test_parser import SPLITS

TRAILING = b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nnext"


@dataclass
class Message:
    head: ResponseHead
    informational: list[int]
    body: bytearray = field(default_factory=bytearray)
    trailers: Headers | None = None
    ended: bool = False


def drain(parser: ResponseParser, messages: list[Message], pending: list[int], want: int) -> None:
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            return
        if event is PAUSED:
            if len(messages) >= want:
                return
            parser.start_next()
        elif isinstance(event, ResponseHead):
            if event.status < 200:
                pending.append(event.status)
                continue
            assert not messages or messages[-1].ended
            messages.append(Message(event, pending[:]))
            pending.clear()
        elif isinstance(event, Data):
            assert event.data
            messages[-1].body += event.data
        else:
            assert isinstance(event, EndOfMessage)
            messages[-1].trailers = event.trailers
            messages[-1].ended = True


def replay(
    parser: ResponseParser, chunks: Iterable[bytes], want: int, eof: bool = False
) -> list[Message]:
    messages: list[Message] = []
    pending: list[int] = []
    for chunk in chunks:
        parser.feed(chunk)
        drain(parser, messages, pending, want)
    if eof:
        parser.feed_eof()
        drain(parser, messages, pending, want)
    return messages


def check(message: Message, expected: Resp) -> None:
    head = message.head
    assert message.ended
    assert (head.status, head.reason, head.http_version) == (
        expected.status,
        expected.reason,
        expected.version,
    )
    assert head.content_length == expected.content_length
    assert (head.chunked, head.close_delimited) == (expected.chunked, expected.close_delimited)
    assert head.keep_alive is expected.keep_alive
    assert tuple(message.informational) == expected.informational
    if expected.headers is not None:
        assert head.headers.items() == list(expected.headers)
    assert bytes(message.body) == expected.body
    if expected.trailers is None:
        assert message.trailers is None
    else:
        assert message.trailers is not None
        assert message.trailers.items() == list(expected.trailers)


def parser_for(vector: Valid | Invalid) -> ResponseParser:
    parser = ResponseParser(**vector.limits)
    parser.expect(vector.method)
    return parser


def ids(vectors: Iterable[Valid | Invalid]) -> list[str]:
    return [v.name for v in vectors]


@pytest.mark.parametrize("split", list(SPLITS))
@pytest.mark.parametrize("vector", VALID, ids=ids(VALID))
def test_valid(vector: Valid, split: str) -> None:
    parser = parser_for(vector)
    messages = replay(parser, SPLITS[split](vector.raw), len(vector.responses), vector.eof)
    assert len(messages) == len(vector.responses)
    for message, expected in zip(messages, vector.responses, strict=True):
        check(message, expected)
    assert parser.next_event() is PAUSED
    assert parser.trailing_data() == b""


KEEP_ALIVE = [v for v in VALID if not v.eof and v.responses[-1].keep_alive]


@pytest.mark.parametrize("split", list(SPLITS))
@pytest.mark.parametrize("vector", KEEP_ALIVE, ids=ids(KEEP_ALIVE))
def test_valid_with_trailing_bytes(vector: Valid, split: str) -> None:
    parser = parser_for(vector)
    want = len(vector.responses)
    messages = replay(parser, SPLITS[split](vector.raw + TRAILING), want)
    for message, expected in zip(messages, vector.responses, strict=True):
        check(message, expected)
    assert parser.next_event() is PAUSED
    assert parser.trailing_data() == TRAILING
    parser.start_next()
    head = parser.next_event()
    assert isinstance(head, ResponseHead) and head.status == 201
    assert parser.next_event() == Data(b"next")
    assert parser.next_event() == EndOfMessage()


@pytest.mark.parametrize("split", ["whole", "bytes", "random1"])
@pytest.mark.parametrize("vector", INVALID, ids=ids(INVALID))
def test_invalid(vector: Invalid, split: str) -> None:
    parser = parser_for(vector)
    with pytest.raises(ProtocolError) as info:
        replay(parser, SPLITS[split](vector.raw), want=99, eof=vector.eof)
    error = info.value
    assert error.status == 502, error.detail
    assert vector.match in error.detail
    prose = re.sub(r"b?'[^']*'|b?\"[^\"]*\"", "", error.detail)
    assert prose == prose.lower()
    with pytest.raises(ProtocolError) as again:
        parser.next_event()
    assert again.value is error


def test_details_quote_the_bad_bytes() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n")
    with pytest.raises(ProtocolError, match=r"invalid content-length in a response: '1_0'"):
        parser.next_event()


def test_101_hands_over_the_rest() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")
    head = parser.next_event()
    assert isinstance(head, ResponseHead)
    assert (head.status, head.keep_alive) == (101, False)
    assert parser.next_event() is PAUSED
    parser.feed(b"\x81\x01!")
    assert parser.next_event() is PAUSED
    assert parser.trailing_data() == b"\x81\x05hello\x81\x01!"
    with pytest.raises(RuntimeError):
        parser.start_next()


def test_connect_2xx_is_a_tunnel() -> None:
    parser = ResponseParser()
    parser.expect("CONNECT")
    parser.feed(b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x01")
    head = parser.next_event()
    assert isinstance(head, ResponseHead) and head.status == 200
    assert parser.next_event() is PAUSED
    assert parser.trailing_data() == b"\x16\x03\x01"


def test_close_delimited_body_comes_as_it_arrives() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\n\r\nabc")
    head = parser.next_event()
    assert isinstance(head, ResponseHead) and head.close_delimited and not head.keep_alive
    assert parser.next_event() == Data(b"abc")
    assert parser.next_event() is NEED_DATA
    parser.feed(b"def")
    assert parser.next_event() == Data(b"def")
    parser.feed_eof()
    assert parser.next_event() == EndOfMessage()
    with pytest.raises(RuntimeError):
        parser.start_next()  # the connection is done


def test_method_resets_to_get_for_the_next_response() -> None:
    parser = ResponseParser()
    parser.expect("HEAD")
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + cl(b"hello"))
    assert isinstance(parser.next_event(), ResponseHead)
    assert parser.next_event() == EndOfMessage()
    parser.start_next()
    head = parser.next_event()
    assert isinstance(head, ResponseHead) and head.content_length == 5
    assert parser.next_event() == Data(b"hello")


def test_started() -> None:
    parser = ResponseParser()
    assert not parser.started
    parser.feed(b"H")
    assert parser.started
    parser.feed(cl(b"ok")[1:])
    assert isinstance(parser.next_event(), ResponseHead)
    assert parser.started
    assert parser.next_event() == Data(b"ok")
    assert parser.next_event() == EndOfMessage()
    parser.start_next()
    assert not parser.started
    parser.feed(b"HTTP/1.1 100 Continue\r\n\r\n")
    head = parser.next_event()
    assert isinstance(head, ResponseHead) and head.status == 100
    assert parser.next_event() is NEED_DATA
    assert parser.started  # a 1xx is a response byte: a retry could repeat its effects
