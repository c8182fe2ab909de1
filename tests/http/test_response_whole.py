"""ResponseParser.read_whole, the proxy's one-step read of a response that came whole in one
recv, against every response vector: where it answers, it gives what the events give (head,
body, the parser's state after); where it does not (a partial, longer, 1xx, chunked,
close-delimited or malformed response), it consumed nothing and the events that follow,
whole, byte by byte and in random chunks, are exactly the event path's, errors included."""

from __future__ import annotations

import random

import pytest

from gateway.errors import ProtocolError
from gateway.http.events import PAUSED, Data, EndOfMessage, ResponseHead
from gateway.http.response import _HEAD_CACHES, ResponseParser
from tests.http.response_vectors import INVALID, VALID, Invalid, Valid, cl
from tests.http.test_parser import SPLITS
from tests.http.test_response import TRAILING, check, ids, parser_for, replay

# Where read_whole may answer: one final response, nothing after it, nothing before it.
SINGLE = [v for v in VALID if len(v.responses) == 1 and not v.responses[0].informational]


def whole(parser: ResponseParser, data: bytes) -> tuple[ResponseHead, bytes] | None:
    return parser.read_whole(data)


@pytest.mark.parametrize("vector", VALID, ids=ids(VALID))
def test_an_answer_is_the_event_paths_answer(vector: Valid) -> None:
    parser = parser_for(vector)
    got = whole(parser, vector.raw)
    events = replay(parser_for(vector), [vector.raw], len(vector.responses), vector.eof)
    if got is None:
        return  # the event path's business (test_response.py checks it)
    assert len(events) == 1 and vector in SINGLE and not vector.eof
    head, body = got
    assert head == events[0].head and body == bytes(events[0].body)
    check(events[0], vector.responses[0])
    assert parser.next_event() is PAUSED and parser.trailing_data() == b""
    if head.keep_alive:  # the connection carries the next response as usual
        parser.start_next()
        parser.feed(TRAILING)
        assert isinstance(parser.next_event(), ResponseHead)
        assert parser.next_event() == Data(b"next")
        assert parser.next_event() == EndOfMessage()


def test_it_answers_the_common_cases() -> None:
    answered = {
        v.name
        for v in SINGLE
        if not v.eof and whole(parser_for(v), v.raw) is not None  # ... and refuses the rest
    }
    assert answered  # the vectors do include plain Content-Length answers
    parser = ResponseParser()
    raw = cl(b"hello", "Connection: keep-alive", "Server: origin")
    got = parser.read_whole(raw)
    assert got is not None and got[1] == b"hello" and got[0].keep_alive
    for method, status in (("HEAD", "200 OK"), ("GET", "204 No Content"), ("GET", "304 x")):
        parser = ResponseParser()
        parser.expect(method)
        got = parser.read_whole(f"HTTP/1.1 {status}\r\nContent-Length: 7\r\n\r\n".encode())
        assert got is not None and got[1] == b"" and got[0].content_length is None


@pytest.mark.parametrize("split", list(SPLITS))
@pytest.mark.parametrize("vector", VALID, ids=ids(VALID))
def test_a_refused_or_partial_first_read_leaves_the_events_intact(
    vector: Valid, split: str
) -> None:
    """read_whole on a first read that is not the whole response (the first chunk of each
    split), then the event path: the same messages as without it."""
    chunks = list(SPLITS[split](vector.raw))
    parser = parser_for(vector)
    first = chunks[0]
    if len(chunks) > 1 or len(vector.responses) > 1 or vector.eof:
        assert whole(parser, first) is None
    elif whole(parser, first) is not None:
        return  # answered whole: the test above
    messages = replay(parser, chunks, len(vector.responses), vector.eof)
    assert len(messages) == len(vector.responses)
    for message, expected in zip(messages, vector.responses, strict=True):
        check(message, expected)


ENDED = [v for v in SINGLE if not v.eof]  # not close-delimited: something ends them


@pytest.mark.parametrize("vector", ENDED, ids=ids(ENDED))
def test_bytes_after_the_response_are_left_to_the_events(vector: Valid) -> None:
    parser = parser_for(vector)
    assert whole(parser, vector.raw + TRAILING) is None
    messages = replay(parser, [vector.raw + TRAILING], 1)
    check(messages[0], vector.responses[0])
    if vector.responses[0].keep_alive:
        assert parser.trailing_data() == TRAILING


@pytest.mark.parametrize("split", ["whole", "bytes", "random1"])
@pytest.mark.parametrize("vector", INVALID, ids=ids(INVALID))
def test_malformed_responses_are_refused_and_the_events_report_them(
    vector: Invalid, split: str
) -> None:
    parser = parser_for(vector)
    assert whole(parser, vector.raw) is None
    with pytest.raises(ProtocolError) as info:
        replay(parser, SPLITS[split](vector.raw), want=99, eof=vector.eof)
    assert info.value.status == 502 and vector.match in info.value.detail


def test_a_head_not_seen_before_with_its_body_to_come_parses_the_usual_way() -> None:
    """read_whole checked the head (a first sight: no cache) and refused the short body: the
    event path must search for the head's end from its start again."""
    raw = cl(b"0123456789", "X-Unique: read-whole-partial-body")
    parser = ResponseParser()
    assert parser.read_whole(raw[:-3]) is None
    parser.feed(raw[:-3])
    head = parser.next_event()
    assert isinstance(head, ResponseHead) and head.content_length == 10
    assert parser.next_event() == Data(b"0123456")
    parser.feed(raw[-3:])
    assert parser.next_event() == Data(b"789")
    assert parser.next_event() == EndOfMessage()


def test_only_the_first_read_of_a_response_and_never_after_an_error() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert isinstance(parser.next_event(), ResponseHead)
    assert parser.read_whole(cl(b"ok")) is None  # a 1xx came first: the events go on
    bad = ResponseParser()
    bad.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    with pytest.raises(ProtocolError):
        bad.next_event()
    assert bad.read_whole(cl(b"ok")) is None
    connect = ResponseParser()
    connect.expect("CONNECT")
    assert connect.read_whole(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") is None
    limited = ResponseParser(max_body_bytes=3)
    assert limited.read_whole(cl(b"four")) is None


BASES = [
    cl(b"hello", "Server: o", "Connection: keep-alive", 'ETag: "v"'),
    cl(b"", "Content-Type: text/plain", status="204 No Content"),
    b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
]
ALPHABET = b"\r\n\x00 \t:,x0-+\x7f\x80;"


def event_answer(raw: bytes) -> tuple[object, ...]:
    """What the event path makes of `raw` fed whole: ("ok", head, body, trailing bytes),
    ("need",) when it waits for more, or ("error",)."""
    parser = ResponseParser()
    parser.feed(raw)
    body = bytearray()
    head = None
    try:
        while True:
            event = parser.next_event()
            if isinstance(event, ResponseHead):
                head = event
            elif isinstance(event, Data):
                body += event.data
            elif isinstance(event, EndOfMessage):
                return ("ok", head, bytes(body), parser.trailing_data())
            else:
                return ("need",)
    except ProtocolError:
        return ("error",)


def mutations(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        raw = bytearray(rng.choice(BASES))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(raw))
            byte = rng.choice(ALPHABET)
            if rng.random() < 0.5:
                raw[at] = byte
            else:
                raw.insert(at, byte)
        found.append(bytes(raw))
    return found


@pytest.mark.parametrize("seed", range(4))
def test_mutated_heads_never_get_another_answer(seed: int) -> None:
    """Differential: whatever read_whole answers (its cache emptied, so every head is
    parsed on the spot) is what the event path answers; what the event path refuses or
    waits on, read_whole leaves to it."""
    answered = 0
    for raw in mutations(seed, 300):
        _HEAD_CACHES.clear()
        got = ResponseParser().read_whole(raw)
        expected = event_answer(raw)
        if got is None:
            continue
        answered += 1
        assert expected == ("ok", got[0], got[1], b""), raw
    assert answered  # some mutations (in a value, say) stay valid
