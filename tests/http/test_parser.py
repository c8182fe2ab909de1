"""The request parser against the byte vectors in vectors.py, each replayed whole, a byte at
a time, in seeded random chunks and followed by the bytes of another request; plus the
streaming behaviour the vectors cannot show (early limits, PAUSED, in_message, buffering)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import pytest

from gateway.errors import ProtocolError
from gateway.http.events import NEED_DATA, PAUSED, Data, EndOfMessage, RequestHead
from gateway.http.headers import Headers
from gateway.http.parser import RequestParser
from tests.http.vectors import INVALID, VALID, Invalid, Req, Valid

SMALL_LIMITS = {"max_request_line": 32, "max_header_bytes": 64, "max_headers": 3}
TRAILING = b"GET /next HTTP/1.1\r\nHost: trailing.example\r\n\r\n"


@dataclass
class Message:
    head: RequestHead
    body: bytearray = field(default_factory=bytearray)
    trailers: Headers | None = None
    ended: bool = False


def whole(raw: bytes) -> Iterator[bytes]:
    yield raw


def bytewise(raw: bytes) -> Iterator[bytes]:
    for i in range(len(raw)):
        yield raw[i : i + 1]


def random_chunks(seed: int) -> Callable[[bytes], Iterator[bytes]]:
    def split(raw: bytes) -> Iterator[bytes]:
        rng = random.Random(seed)
        i = 0
        while i < len(raw):
            n = rng.randint(1, 40)
            yield raw[i : i + n]
            i += n

    return split


SPLITS = {
    "whole": whole,
    "bytes": bytewise,
    "random1": random_chunks(1),
    "random2": random_chunks(2),
}


def drain(parser: RequestParser, messages: list[Message], want: int) -> None:
    """Take events until NEED_DATA, or until `want` messages have ended (then leave the
    parser PAUSED, as a server would while it answers the last one)."""
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            return
        if event is PAUSED:
            if len(messages) >= want:
                return
            parser.start_next()
        elif isinstance(event, RequestHead):
            assert not messages or messages[-1].ended
            messages.append(Message(event))
        elif isinstance(event, Data):
            assert event.data, "Data events are never empty"
            assert not messages[-1].ended
            messages[-1].body += event.data
        else:
            assert isinstance(event, EndOfMessage)
            messages[-1].trailers = event.trailers
            messages[-1].ended = True


def replay(parser: RequestParser, chunks: Iterable[bytes], want: int) -> list[Message]:
    messages: list[Message] = []
    for chunk in chunks:
        parser.feed(chunk)
        drain(parser, messages, want)
    return messages


def check(message: Message, req: Req) -> None:
    head = message.head
    assert message.ended
    assert head.method == req.method
    assert head.target == req.expected_target
    assert (head.path, head.query) == (req.path, req.query)
    assert head.http_version == req.version
    assert head.host == req.host
    assert (head.content_length, head.chunked) == (req.content_length, req.chunked)
    assert head.keep_alive is req.keep_alive
    assert head.expect_continue is req.expect_continue
    if req.headers is not None:
        assert head.headers.items() == list(req.headers)
    assert bytes(message.body) == req.body
    if req.trailers is None:
        assert message.trailers is None
    else:
        assert message.trailers is not None
        assert message.trailers.items() == list(req.trailers)


def ids(vectors: Iterable[Valid | Invalid]) -> list[str]:
    return [v.name for v in vectors]


@pytest.mark.parametrize("split", list(SPLITS))
@pytest.mark.parametrize("vector", VALID, ids=ids(VALID))
def test_valid(vector: Valid, split: str) -> None:
    parser = RequestParser(**vector.limits)
    messages = replay(parser, SPLITS[split](vector.raw), len(vector.requests))
    assert len(messages) == len(vector.requests)
    for message, req in zip(messages, vector.requests, strict=True):
        check(message, req)
    assert parser.next_event() is PAUSED
    assert not parser.in_message
    assert parser.buffered == b""


@pytest.mark.parametrize("split", list(SPLITS))
@pytest.mark.parametrize("vector", VALID, ids=ids(VALID))
def test_valid_with_trailing_bytes(vector: Valid, split: str) -> None:
    parser = RequestParser(**vector.limits)
    want = len(vector.requests)
    messages = replay(parser, SPLITS[split](vector.raw + TRAILING), want)
    for message, req in zip(messages, vector.requests, strict=True):
        check(message, req)
    # PAUSED keeps the next request's bytes untouched, however they arrived
    assert parser.next_event() is PAUSED
    assert parser.buffered == TRAILING
    parser.start_next()
    head = parser.next_event()
    assert isinstance(head, RequestHead)
    assert (head.path, head.host) == ("/next", "trailing.example")
    assert parser.next_event() == EndOfMessage()
    assert parser.buffered == b""


def expect_error(parser: RequestParser, chunks: Iterable[bytes], want: int) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        replay(parser, chunks, want)
    return info.value


@pytest.mark.parametrize("split", ["whole", "bytes", "random1"])
@pytest.mark.parametrize("vector", INVALID, ids=ids(INVALID))
def test_invalid(vector: Invalid, split: str) -> None:
    parser = RequestParser(**vector.limits)
    error = expect_error(parser, SPLITS[split](vector.raw), want=99)
    assert error.status == vector.status, error.detail
    assert vector.match in error.detail
    prose = re.sub(r"b?'[^']*'|b?\"[^\"]*\"", "", error.detail)  # all but the quoted bytes
    assert prose == prose.lower()
    # the parser stays broken: the connection cannot be trusted any more
    with pytest.raises(ProtocolError) as again:
        parser.next_event()
    assert again.value is error


def test_error_details_quote_the_bad_bytes() -> None:
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n")
    parser.next_event()
    with pytest.raises(ProtocolError, match=r"illegal chunk header: b'0x5'"):
        parser.next_event()


# Limits are enforced while the head is still arriving, not only once it is complete.


def fed(raw: bytes, **limits: int) -> RequestParser:
    parser = RequestParser(**limits)
    parser.feed(raw)
    return parser


def test_long_request_line_refused_before_its_crlf() -> None:
    parser = fed(b"GET /" + b"a" * 28, max_request_line=32)
    assert parser.next_event() is NEED_DATA
    parser.feed(b"a")
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 414


def test_request_line_may_end_in_cr_at_the_limit() -> None:
    parser = fed(b"GET /" + b"a" * 18 + b" HTTP/1.1\r", max_request_line=32)
    assert parser.next_event() is NEED_DATA
    parser.feed(b"\nHost: a\r\n\r\n")
    assert isinstance(parser.next_event(), RequestHead)


def test_big_header_section_refused_before_its_end() -> None:
    parser = fed(b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 100, max_header_bytes=64)
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 431


def test_too_many_headers_refused_before_the_end() -> None:
    parser = fed(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n", max_headers=3)
    assert parser.next_event() is NEED_DATA
    parser.feed(b"D: 4\r")
    assert parser.next_event() is NEED_DATA
    parser.feed(b"\n")
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 431


def test_bare_lf_refused_at_once() -> None:
    parser = fed(b"GET / HTTP/1.1\n")
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 400


def test_content_length_over_limit_refused_after_the_head() -> None:
    """h11's habit: the sound head comes out (so the 413 can be routed, with CORS), then
    the 413 is raised, before any byte of the body is read; no error carries a head."""
    parser = fed(
        b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
        max_body_bytes=10,
    )
    head = parser.next_event()
    assert isinstance(head, RequestHead)
    assert (head.method, head.path, head.host) == ("POST", "/up", "a")
    assert (head.content_length, head.keep_alive, head.expect_continue) == (None, False, False)
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 413
    assert getattr(info.value, "head", None) is None
    with pytest.raises(ProtocolError) as again:
        parser.next_event()
    assert again.value is info.value


def test_chunk_over_limit_refused_before_its_data() -> None:
    parser = fed(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n", max_body_bytes=10
    )
    assert isinstance(parser.next_event(), RequestHead)
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 413


def test_endless_chunk_size_line_refused() -> None:
    parser = fed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() is NEED_DATA
    parser.feed(b"b" * 5000)
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 400


# The event stream


def test_body_comes_as_it_arrives() -> None:
    parser = fed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhel")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() == Data(b"hel")
    assert parser.next_event() is NEED_DATA
    parser.feed(b"lo worldGET")
    assert parser.next_event() == Data(b"lo worl")
    assert parser.next_event() == EndOfMessage()
    assert parser.next_event() is PAUSED
    assert parser.buffered == b"dGET"


def test_chunks_available_together_come_as_one_data() -> None:
    parser = fed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert isinstance(parser.next_event(), RequestHead)
    parser.feed(b"3\r\nabc\r\n2;x=y\r\nde\r\n1\r\nf")
    assert parser.next_event() == Data(b"abcdef")
    assert parser.next_event() is NEED_DATA
    parser.feed(b"\r\n0\r\n\r\n")
    assert parser.next_event() == EndOfMessage()


def test_paused_until_start_next() -> None:
    parser = fed(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() == EndOfMessage()
    for _ in range(3):
        assert parser.next_event() is PAUSED
    parser.start_next()
    head = parser.next_event()
    assert isinstance(head, RequestHead)
    assert head.path == "/b"


def test_start_next_before_the_end_is_a_bug() -> None:
    parser = fed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
    parser.next_event()
    with pytest.raises(RuntimeError):
        parser.start_next()


def test_in_message() -> None:
    parser = RequestParser()
    assert not parser.in_message
    parser.feed(b"\r\n\r\n")
    assert parser.next_event() is NEED_DATA
    assert not parser.in_message  # stray empty lines are not a request
    parser.feed(b"G")
    assert parser.in_message
    parser.feed(b"ET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.in_message
    parser.feed(b"ok")
    assert parser.next_event() == Data(b"ok")
    assert parser.in_message
    assert parser.next_event() == EndOfMessage()
    assert not parser.in_message
    parser.start_next()
    assert not parser.in_message


def test_headers_api() -> None:
    parser = fed(b"GET / HTTP/1.1\r\nHost: a\r\nAccept: x\r\nACCEPT: y\r\n\r\n")
    head = parser.next_event()
    assert isinstance(head, RequestHead)
    assert head.headers.get("Accept") == "x"
    assert head.headers.get_all("accept") == ["x", "y"]
    assert "HOST" in head.headers
    assert head.headers["host"] == "a"


def test_long_body_in_pieces_compacts_the_buffer() -> None:
    size = 300_000
    parser = fed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % size)
    assert isinstance(parser.next_event(), RequestHead)
    body = bytearray()
    for i in range(0, size, 7000):
        parser.feed(bytes([i % 251]) * min(7000, size - i))
        event = parser.next_event()
        assert isinstance(event, Data)
        body += event.data
        assert len(parser._buf) < 80_000
    assert len(body) == size
    assert parser.next_event() == EndOfMessage()


def test_many_pipelined_requests() -> None:
    raw = b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(200))
    parser = RequestParser()
    messages = replay(parser, random_chunks(3)(raw), want=200)
    assert [m.head.path for m in messages] == [f"/{i}" for i in range(200)]


def test_caches_stay_bounded() -> None:
    from gateway.http import fields, head

    parser = RequestParser()
    for i in range(3000):
        parser.feed(b"GET / HTTP/1.1\r\nHost: h%d\r\nX-%d: %d\r\n\r\n" % (i, i, i))
        assert isinstance(parser.next_event(), RequestHead)
        assert parser.next_event() == EndOfMessage()
        parser.start_next()
    assert len(fields._KNOWN_NAMES) <= fields._MAX_KNOWN_NAMES
    assert len(fields._KNOWN_LINES) <= fields._MAX_KNOWN_LINES
    assert len(head._KNOWN_HOSTS) <= head._MAX_KNOWN_HOSTS


def test_cached_line_still_checked_in_context() -> None:
    """A line seen valid before is still refused where the head around it is not."""
    ok = RequestParser()
    ok.feed(b"GET / HTTP/1.1\r\nHost: a\r\nX-Seen: 1\r\n\r\n")
    assert isinstance(ok.next_event(), RequestHead)
    bad = RequestParser()
    bad.feed(b"GET / HTTP/1.1\r\nHost: a\r\nX-Seen: 1\r\nX-Seen: 1\x00\r\n\r\n")
    with pytest.raises(ProtocolError):
        bad.next_event()


def test_credentials_are_not_cached() -> None:
    from gateway.http import fields

    parser = fed(
        b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3cret\r\nCookie: id=1\r\n\r\n"
    )
    head = parser.next_event()
    assert isinstance(head, RequestHead)
    assert head.headers["authorization"] == "Bearer s3cret"
    assert not any("s3cret" in line or "id=1" in line for line in fields._KNOWN_LINES)


# Chunked bodies: many chunks per call, bounded work per call


def chunked_parser(**limits: int) -> RequestParser:
    parser = fed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", **limits)
    assert isinstance(parser.next_event(), RequestHead)
    return parser


def test_a_run_of_tiny_chunks_is_one_data() -> None:
    parser = chunked_parser()
    body = bytes(range(256)) * 4
    parser.feed(b"".join(b"1\r\n%c\r\n" % b for b in body) + b"0\r\n\r\n")
    assert parser.next_event() == Data(body)
    assert parser.next_event() == EndOfMessage()


@pytest.mark.parametrize("size", [1, 2, 3, 17])
@pytest.mark.parametrize("bad", [b"1\r\nxx\r\n", b"1\nx\r\n", b"1\r\nx\n", b"+1\r\nx\r\n"])
def test_a_broken_chunk_inside_a_run_is_refused(size: int, bad: bytes) -> None:
    parser = chunked_parser()
    good = b"%x\r\n%s\r\n" % (size, b"y" * size)
    parser.feed(good * 40 + bad + good * 40)
    with pytest.raises(ProtocolError) as info:
        while parser.next_event() is not NEED_DATA:
            pass
    assert info.value.status == 400


def test_a_run_stops_at_the_body_limit() -> None:
    parser = chunked_parser(max_body_bytes=50)
    parser.feed(b"1\r\nz\r\n" * 60)
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 413


def test_one_call_decodes_a_bounded_amount() -> None:
    from gateway.http.body import MAX_READ_BYTES

    parser = chunked_parser(max_body_bytes=1 << 30)
    size = MAX_READ_BYTES // 4
    parser.feed(b"%x\r\n%s\r\n" % (size, b"a" * size) * 10 + b"0\r\n\r\n")
    lengths = []
    while (event := parser.next_event()) != EndOfMessage():
        assert isinstance(event, Data)
        lengths.append(len(event.data))
    assert sum(lengths) == 10 * size
    assert max(lengths) <= MAX_READ_BYTES


# One verdict per input, however it is split (issue 10 item 6)


def test_long_request_line_is_414_even_with_its_crlf_in_the_same_read() -> None:
    parser = fed(b"GET /" + b"a" * 40 + b" HTTP/1.1\r\n" + b"X: " + b"b" * 80, **SMALL_LIMITS)
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 414


def test_request_line_judged_as_soon_as_it_is_complete() -> None:
    parser = fed(b"GET / HTTP/2.0\r\n")
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 505


def test_earliest_error_wins_in_one_read() -> None:
    # a bare LF in the request line comes before the line is too long: 400 either way
    raw = b"GE\nT /" + b"a" * 40 + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    whole = fed(raw, **SMALL_LIMITS)
    with pytest.raises(ProtocolError) as info:
        whole.next_event()
    assert info.value.status == 400


def test_one_call_decodes_a_bounded_number_of_chunks() -> None:
    from gateway.http.body import MAX_READ_CHUNKS

    parser = chunked_parser(max_body_bytes=1 << 30)
    sizes = [1 + i % 3 for i in range(3 * MAX_READ_CHUNKS)]  # mixed: no run to batch
    parser.feed(b"".join(b"%x\r\n%s\r\n" % (s, b"m" * s) for s in sizes) + b"0\r\n\r\n")
    lengths = []
    while (event := parser.next_event()) != EndOfMessage():
        assert isinstance(event, Data)
        lengths.append(len(event.data))
    assert sum(lengths) == sum(sizes)
    assert len(lengths) >= 3
