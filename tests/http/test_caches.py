"""The sans-IO caches: parsed request heads kept by their exact bytes (per set of limits),
and encoded response heads kept until the Date changes. A cached answer must be exactly
what parsing or encoding afresh would give, and a change of one byte must miss."""

from __future__ import annotations

import pytest

from gateway.errors import ProtocolError
from gateway.http.events import NEED_DATA, Data, EndOfMessage
from gateway.http.parser import RequestParser
from gateway.http.writer import Framing, HeaderError, ResponseWriter

HEAD = b"GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"


def first_head(data: bytes, **limits: int):
    parser = RequestParser(**limits)
    parser.feed(data)
    return parser.next_event()


def test_a_repeated_head_is_the_same_parsed_head():
    one, two = first_head(HEAD), first_head(HEAD)
    assert one is two  # from the cache
    assert one.method == "GET" and one.path == "/a" and one.query == "x=1"
    assert one.headers.get("accept") == "*/*"


def test_one_header_byte_more_is_parsed_afresh():
    other = first_head(HEAD.replace(b"*/*", b"*/+"))
    assert other is not first_head(HEAD)
    assert other.headers.get("accept") == "*/+"


def test_a_head_cached_under_loose_limits_is_judged_again_under_strict_ones():
    assert first_head(HEAD, max_headers=100).host == "example.com"
    with pytest.raises(ProtocolError) as error:
        first_head(HEAD, max_headers=1)
    assert error.value.status == 431


def test_a_head_over_the_body_limit_gets_its_413_every_time():
    data = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"
    for _ in range(2):
        parser = RequestParser(max_body_bytes=5)
        parser.feed(data)
        assert parser.next_event().content_length is None
        with pytest.raises(ProtocolError) as error:
            parser.next_event()
        assert error.value.status == 413


def test_a_cached_head_still_frames_its_body():
    data = b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
    for _ in range(2):
        parser = RequestParser()
        parser.feed(data + HEAD)  # a pipelined request behind it
        assert parser.next_event().content_length == 3
        assert parser.next_event() == Data(b"abc")
        assert type(parser.next_event()) is EndOfMessage
        parser.start_next()
        assert parser.next_event().path == "/a"


def test_an_empty_buffer_needs_data_at_once():
    parser = RequestParser()
    assert parser.next_event() is NEED_DATA
    parser.feed(b"GET / HT")
    assert parser.next_event() is NEED_DATA
    parser.feed(b"TP/1.1\r\nHost: a\r\n\r\n")
    assert parser.next_event().path == "/"


# -- response heads -----------------------------------------------------------------------


def written(writer: ResponseWriter, headers=(("content-type", "text/plain"),), **kw):
    args = {"content_length": 2, "keep_alive": True} | kw
    return writer.head(200, list(headers), **args)


def test_the_same_head_in_the_same_second_is_the_same_bytes():
    writer = ResponseWriter()
    writer.set_date(0)
    one, two = written(writer), written(writer)
    assert one[0] is two[0] and one[1] is Framing.LENGTH
    writer.set_date(0.5)  # the same Date: the cache stays
    assert written(writer)[0] is one[0]


def test_a_new_date_second_writes_the_new_date():
    writer = ResponseWriter()
    writer.set_date(0)
    before = written(writer)[0]
    writer.set_date(1)
    after = written(writer)[0]
    assert b"date: Thu, 01 Jan 1970 00:00:00 GMT" in before
    assert b"date: Thu, 01 Jan 1970 00:00:01 GMT" in after


def test_every_argument_is_part_of_the_key():
    writer = ResponseWriter()
    writer.set_date(0)
    base = written(writer)
    variants = [
        written(writer, headers=(("content-type", "text/plaim"),)),
        written(writer, content_length=3),
        written(writer, keep_alive=False),
        written(writer, http_version="1.0"),
        written(writer, head_request=True),
    ]
    fresh = ResponseWriter()
    fresh.set_date(0)
    assert base == written(fresh)
    for variant in variants:
        assert variant != base  # HEAD: the same bytes, but no body follows
    assert variants[0][0] == base[0].replace(b"text/plain", b"text/plaim")
    assert variants[4] == (base[0], Framing.NONE)


def test_a_bad_head_is_refused_every_time():
    writer = ResponseWriter()
    for _ in range(2):
        with pytest.raises(HeaderError):
            written(writer, headers=(("x-bad", "a\r\nset-cookie: x=1"),))


def test_an_unhashable_value_is_still_written():
    writer = ResponseWriter()
    head, _ = written(writer, headers=(("x-list", ["a"]),))  # type: ignore[list-item]
    assert b"x-list: ['a']\r\n" in head
