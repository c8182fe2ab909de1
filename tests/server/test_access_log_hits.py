"""AccessLog.hit: the line for an answer sent from the response cache is, byte for byte,
the line the long way writes for the Request built from the same head (common and
combined formats); a json log, whose lines name each request's id, logs no hits."""

from __future__ import annotations

import io

import pytest

from gateway.http.parser import RequestParser
from gateway.log import AccessLog
from gateway.request import build_request

HEADS = [
    b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    b'GET /p%20q/r?x=1&y=%22 HTTP/1.1\r\nHost: x\r\nReferer: http://r/"q\r\n'
    b'User-Agent: t "1"\r\n\r\n',
    b"GET http://x/abs?q HTTP/1.0\r\nUser-Agent: old\r\n\r\n",
]


def parsed(raw: bytes):
    parser = RequestParser()
    parser.feed(raw)
    return parser.next_event()


@pytest.mark.parametrize("fmt", ["common", "combined"])
@pytest.mark.parametrize("raw", HEADS)
def test_a_hit_logs_the_line_the_long_way_logs(fmt, raw):
    head = parsed(raw)
    long_way, from_cache = io.StringIO(), io.StringIO()
    client = ("10.0.0.9", 5)
    log = AccessLog(fmt, long_way)
    log(build_request(head, b"", client, "id-1"), 200, 14, client)
    log.flush()
    log = AccessLog(fmt, from_cache)
    assert log.logs_hits
    log.hit(head, 200, 14, client)
    log.flush()
    assert from_cache.getvalue() == long_way.getvalue() != ""


@pytest.mark.parametrize("fmt", ["json", "off"])
def test_json_and_off_logs_take_no_hits(fmt):
    out = io.StringIO()
    log = AccessLog(fmt, out)
    assert not log.logs_hits
    log.hit(parsed(HEADS[0]), 200, 1, ("1.2.3.4", 1))
    log.flush()
    assert out.getvalue() == ""
