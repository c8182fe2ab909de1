"""Response byte vectors for the response parser, in the style of vectors.py: each valid vector
with the request method it answers and the responses it must produce, each invalid one with
the detail its 502 must carry. test_response.py replays them whole, byte by byte, in random
chunks and followed by the bytes of the next response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Fields = tuple[tuple[str, str], ...]

SMALL: dict[str, Any] = {"max_header_bytes": 64, "max_headers": 3, "max_body_bytes": 16}


@dataclass(frozen=True)
class Resp:
    """What one parsed response must look like; `headers` None means "not checked"."""

    status: int = 200
    reason: str = "OK"
    version: str = "1.1"
    headers: Fields | None = None
    body: bytes = b""
    content_length: int | None = None
    chunked: bool = False
    close_delimited: bool = False
    keep_alive: bool = True
    trailers: Fields | None = None
    informational: tuple[int, ...] = ()  # statuses of the 1xx heads before this one


@dataclass(frozen=True)
class Valid:
    name: str
    raw: bytes
    responses: tuple[Resp, ...]
    method: str = "GET"
    limits: dict[str, Any] = field(default_factory=dict)
    eof: bool = False  # the upstream closes after raw (close-delimited bodies)


@dataclass(frozen=True)
class Invalid:
    name: str
    raw: bytes
    match: str = ""  # a piece of the 502's detail
    method: str = "GET"
    limits: dict[str, Any] = field(default_factory=dict)
    eof: bool = False


def resp(*headers: str, body: bytes = b"", status: str = "200 OK", version: str = "1.1") -> bytes:
    lines = [f"HTTP/{version} {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def cl(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    return resp(f"Content-Length: {len(body)}", *headers, body=body, status=status)


def te(body: bytes, *headers: str) -> bytes:
    return resp("Transfer-Encoding: chunked", *headers, body=body)


HELLO: dict[str, Any] = dict(content_length=5, body=b"hello")
CHUNKED: dict[str, Any] = dict(chunked=True)

VALID: list[Valid] = [
    Valid(
        "content-length",
        cl(b"hello", "Content-Type: text/plain"),
        (Resp(**HELLO, headers=(("content-length", "5"), ("content-type", "text/plain"))),),
    ),
    Valid("content-length 0", cl(b""), (Resp(content_length=0),)),
    Valid(
        "no reason",
        b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
        (Resp(reason="", content_length=0),),
    ),
    Valid("no space before empty reason", b"HTTP/1.1 204\r\n\r\n", (Resp(204, reason=""),)),
    Valid(
        "reason with spaces and obs-text",
        cl(b"", status="404 Not \xe9 Found"),
        (Resp(404, "Not \xe9 Found", content_length=0),),
    ),
    Valid("chunked", te(b"5\r\nhello\r\n0\r\n\r\n"), (Resp(**CHUNKED, body=b"hello"),)),
    Valid(
        "chunked with extensions and trailers",
        te(b"2;a=b\r\nhe\r\n3\r\nllo\r\n0\r\nX-Sum: 1\r\n\r\n"),
        (Resp(**CHUNKED, body=b"hello", trailers=(("x-sum", "1"),)),),
    ),
    Valid(
        "204 ignores nothing but has no body",
        resp(status="204 No Content"),
        (Resp(204, "No Content"),),
    ),
    Valid(
        "304 with content-length has no body",
        resp("Content-Length: 99", status="304 Not Modified"),
        (Resp(304, "Not Modified"),),
    ),
    Valid(
        "head with content-length has no body", resp("Content-Length: 5"), (Resp(),), method="HEAD"
    ),
    Valid(
        "head with chunked has no body",
        resp("Transfer-Encoding: chunked"),
        (Resp(),),
        method="HEAD",
    ),
    Valid(
        "100 continue then the response",
        resp(status="100 Continue") + cl(b"hello"),
        (Resp(**HELLO, informational=(100,)),),
        method="POST",
    ),
    Valid(
        "103 early hints twice then the response",
        resp("Link: </a.css>; rel=preload", status="103 Early Hints") * 2 + cl(b"hello"),
        (Resp(**HELLO, informational=(103, 103)),),
    ),
    Valid(
        "close-delimited",
        resp(body=b"until the end"),
        (Resp(body=b"until the end", close_delimited=True, keep_alive=False),),
        eof=True,
    ),
    Valid(
        "close-delimited, empty",
        resp(),
        (Resp(close_delimited=True, keep_alive=False),),
        eof=True,
    ),
    Valid(
        "connection close", cl(b"hello", "Connection: close"), (Resp(**HELLO, keep_alive=False),)
    ),
    Valid(
        "connection token list",
        cl(b"hello", "Connection: Upgrade,  CLOSE "),
        (Resp(**HELLO, keep_alive=False),),
    ),
    Valid(
        "http/1.0 closes",
        resp("Content-Length: 5", body=b"hello", version="1.0"),
        (Resp(**HELLO, version="1.0", keep_alive=False),),
    ),
    Valid(
        "http/1.0 keep-alive",
        resp("Content-Length: 5", "Connection: keep-alive", body=b"hello", version="1.0"),
        (Resp(**HELLO, version="1.0"),),
    ),
    Valid(
        "body bytes are not checked",
        cl(b"a\r\n\r\nb\n\x00"),
        (Resp(content_length=8, body=b"a\r\n\r\nb\n\x00"),),
    ),
    Valid(
        "content-length leading zeros", resp("Content-Length: 005", body=b"hello"), (Resp(**HELLO),)
    ),
    Valid(
        "two responses",
        cl(b"hello") + te(b"1\r\nx\r\n0\r\n\r\n"),
        (Resp(**HELLO), Resp(**CHUNKED, body=b"x")),
    ),
    Valid(
        "head at its limit",
        resp("X-1: " + "a" * 23, "X-2: " + "b" * 8),
        (Resp(),),
        method="HEAD",
        limits=SMALL,
    ),
    Valid(
        "body at its limit", cl(b"x" * 16), (Resp(content_length=16, body=b"x" * 16),), limits=SMALL
    ),
]

INVALID: list[Invalid] = [
    Invalid("not http", b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "malformed status line"),
    Invalid("http/0.9 style", b"<html>hello</html>\r\n\r\n", "malformed status line"),
    Invalid("lowercase version", b"http/1.1 200 OK\r\n\r\n", "malformed status line"),
    Invalid("http/2.0", b"HTTP/2.0 200 OK\r\n\r\n", "unsupported http version"),
    Invalid("two-digit status", b"HTTP/1.1 20 OK\r\n\r\n", "malformed status line"),
    Invalid("four-digit status", b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
    Invalid("status 600", b"HTTP/1.1 600 Huh\r\n\r\n", "malformed status line"),
    Invalid("tab after version", b"HTTP/1.1\t200 OK\r\n\r\n", "malformed status line"),
    Invalid("bare lf", b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "bare cr or lf"),
    Invalid(
        "bare cr in a value",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n",
        "bare cr or lf",
    ),
    Invalid("nul in a value", cl(b"", "X: a\x00b"), "control character"),
    Invalid("obs-fold", cl(b"", "X-A: one", " two"), "folding"),
    Invalid("space before colon", cl(b"", "X-A : one"), "before the colon"),
    Invalid("cl and te", te(b"0\r\n\r\n", "Content-Length: 5"), "both"),
    Invalid(
        "te and cl on 304",
        resp("Content-Length: 5", "Transfer-Encoding: chunked", status="304 Not Modified"),
        "both",
    ),
    Invalid(
        "two equal cl",
        resp("Content-Length: 5", "Content-Length: 5", body=b"hello"),
        "more than one content-length",
    ),
    Invalid(
        "two different cl",
        resp("Content-Length: 5", "Content-Length: 6", body=b"hello"),
        "more than one",
    ),
    Invalid("cl list", resp("Content-Length: 5, 5", body=b"hello"), "invalid content-length"),
    Invalid("cl plus sign", resp("Content-Length: +5", body=b"hello"), "invalid content-length"),
    Invalid("cl minus sign", resp("Content-Length: -5", body=b"hello"), "invalid content-length"),
    Invalid("cl hex", resp("Content-Length: 0x5", body=b"hello"), "invalid content-length"),
    Invalid("cl huge", resp("Content-Length: " + "9" * 40), "invalid content-length"),
    Invalid(
        "te gzip", resp("Transfer-Encoding: gzip, chunked", body=b"0\r\n\r\n"), "exactly chunked"
    ),
    Invalid(
        "te chunked twice",
        resp("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"),
        "exactly chunked",
    ),
    Invalid(
        "te in http/1.0",
        resp("Transfer-Encoding: chunked", body=b"0\r\n\r\n", version="1.0"),
        "http/1.0",
    ),
    Invalid("chunk size plus", te(b"+5\r\nhello\r\n0\r\n\r\n"), "illegal chunk header"),
    Invalid("chunk size 0x", te(b"0x5\r\nhello\r\n0\r\n\r\n"), "illegal chunk header"),
    Invalid(
        "chunk size overflow",
        te(b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
        "illegal chunk header",
    ),
    Invalid("chunk data too long", te(b"5\r\nhellox\r\n0\r\n\r\n"), "not followed by crlf"),
    Invalid("chunk size bare lf", te(b"5\nhello\r\n0\r\n\r\n"), "illegal chunk header"),
    Invalid("head too big", resp("X-1: " + "a" * 60), "over the limit", limits=SMALL),
    Invalid("too many headers", resp("A: 1", "B: 2", "C: 3", "D: 4"), "more than", limits=SMALL),
    Invalid("status line too long", b"HTTP/1.1 200 " + b"x" * 100, "over the limit", limits=SMALL),
    Invalid("body over the limit", cl(b"x" * 17), "over the limit", limits=SMALL),
    Invalid(
        "chunked over the limit",
        te(b"11\r\n" + b"x" * 17 + b"\r\n0\r\n\r\n"),
        "over the limit",
        limits=SMALL,
    ),
    Invalid(
        "close-delimited over the limit",
        resp(body=b"x" * 17),
        "over the limit",
        limits=SMALL,
        eof=True,
    ),
    Invalid("closed before anything", b"", "before sending a response", eof=True),
    Invalid("closed in the head", b"HTTP/1.1 200 OK\r\nContent-", "in the response head", eof=True),
    Invalid("closed in a content-length body", cl(b"hello")[:-2], "bytes to come", eof=True),
    Invalid("closed in a chunked body", te(b"5\r\nhel"), "chunked body", eof=True),
    Invalid("too many 1xx", resp(status="100 Continue") * 33, "informational"),
]
