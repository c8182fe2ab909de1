"""Request byte vectors for the parser, gunicorn-style: each valid vector with the requests
it must produce, each invalid one with the status it must be refused with. test_parser.py
replays every vector whole, a byte at a time, in random chunks and with trailing bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Fields = tuple[tuple[str, str], ...]

# Small limits, so the limit vectors stay short enough to read.
SMALL: dict[str, Any] = {
    "max_request_line": 32,
    "max_header_bytes": 64,
    "max_headers": 3,
    "max_body_bytes": 16,
}


@dataclass(frozen=True)
class Req:
    """What one parsed request must look like; `headers` None means "not checked"."""

    method: str = "GET"
    path: str = "/"
    query: str = ""
    target: str | None = None  # None: path, plus "?" and query when there is one
    version: str = "1.1"
    host: str | None = "example.com"
    headers: Fields | None = None
    body: bytes = b""
    content_length: int | None = None
    chunked: bool = False
    keep_alive: bool = True
    expect_continue: bool = False
    trailers: Fields | None = None

    @property
    def expected_target(self) -> str:
        if self.target is not None:
            return self.target
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass(frozen=True)
class Valid:
    name: str
    raw: bytes
    requests: tuple[Req, ...]
    limits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Invalid:
    name: str
    raw: bytes
    status: int
    match: str = ""  # a piece of the error's detail
    limits: dict[str, Any] = field(default_factory=dict)


def get(target: str = "/", *headers: str, version: str = "1.1") -> bytes:
    """A request head: `headers` are whole field lines; a Host line comes first for 1.1."""
    lines = [f"GET {target} HTTP/{version}"]
    if version == "1.1":
        lines.append("Host: example.com")
    lines += headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def post(body: bytes, *headers: str, method: str = "POST") -> bytes:
    """A request with `body` as given (already chunked, when a header says so)."""
    lines = [f"{method} /submit HTTP/1.1", "Host: example.com", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(body: bytes, *headers: str) -> bytes:
    return post(body, "Transfer-Encoding: chunked", *headers)


BROWSER_GET = (
    b"GET /assets/app.js?v=3 HTTP/1.1\r\n"
    b"Host: localhost:8000\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: */*\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Connection: keep-alive\r\n"
    b"Referer: http://localhost:8000/\r\n"
    b"Sec-Fetch-Dest: script\r\n"
    b"Sec-Fetch-Mode: no-cors\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b'If-None-Match: "5d8c72a5edda8"\r\n'
    b"\r\n"
)

CL5: dict[str, Any] = dict(method="POST", path="/submit", content_length=5, body=b"hello")
TE: dict[str, Any] = dict(method="POST", path="/submit", chunked=True)

VALID: list[Valid] = [
    # request line and target forms
    Valid("simple get", get(), (Req(headers=(("host", "example.com"),)),)),
    Valid("query", get("/search?q=a+b&x=1"), (Req(path="/search", query="q=a+b&x=1"),)),
    Valid("query with a second ?", get("/p?a=1?b"), (Req(path="/p", query="a=1?b"),)),
    Valid("empty query", get("/p?"), (Req(path="/p", target="/p?"),)),
    Valid(
        "percent-encoded stays raw",
        get("/a%20b/%2F?x=%41"),
        (Req(path="/a%20b/%2F", query="x=%41"),),
    ),
    Valid(
        "unreserved and sub-delims",
        get("/a;b,c=d/~e!$&'()*+@:"),
        (Req(path="/a;b,c=d/~e!$&'()*+@:"),),
    ),
    Valid(
        "browser get",
        BROWSER_GET,
        (
            Req(
                path="/assets/app.js",
                query="v=3",
                host="localhost:8000",
                headers=(
                    ("host", "localhost:8000"),
                    (
                        "user-agent",
                        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                    ),
                    ("accept", "*/*"),
                    ("accept-language", "en-US,en;q=0.5"),
                    ("accept-encoding", "gzip, deflate, br, zstd"),
                    ("connection", "keep-alive"),
                    ("referer", "http://localhost:8000/"),
                    ("sec-fetch-dest", "script"),
                    ("sec-fetch-mode", "no-cors"),
                    ("sec-fetch-site", "same-origin"),
                    ("if-none-match", '"5d8c72a5edda8"'),
                ),
            ),
        ),
    ),
    Valid(
        "unknown method",
        b"PURGE /x HTTP/1.1\r\nHost: example.com\r\n\r\n",
        (Req(method="PURGE", path="/x"),),
    ),
    Valid(
        "method is case-sensitive",
        b"get / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        (Req(method="get"),),
    ),
    Valid("leading empty lines", b"\r\n\r\n" + get(), (Req(),)),
    Valid(
        "absolute-form",
        b"GET http://example.org:8080/p/q?x=1 HTTP/1.1\r\nHost: example.org:8080\r\n\r\n",
        (
            Req(
                path="/p/q",
                query="x=1",
                target="http://example.org:8080/p/q?x=1",
                host="example.org:8080",
            ),
        ),
    ),
    Valid(
        "absolute-form without a path",
        b"GET HTTP://example.org HTTP/1.1\r\nHost: example.org\r\n\r\n",
        (Req(path="/", target="HTTP://example.org", host="example.org"),),
    ),
    Valid(
        "absolute-form authority wins over host",
        b"GET https://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n",
        (Req(path="/x", target="https://a.example/x", host="a.example"),),
    ),
    Valid(
        "asterisk-form",
        b"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
        (Req(method="OPTIONS", path="*"),),
    ),
    # versions and keep-alive
    Valid(
        "http/1.0 without host",
        get(version="1.0"),
        (Req(version="1.0", host=None, keep_alive=False),),
    ),
    Valid(
        "http/1.0 keep-alive",
        get("/", "Connection: Keep-Alive", version="1.0"),
        (Req(version="1.0", host=None, keep_alive=True),),
    ),
    Valid(
        "http/1.0 with host",
        get("/", "Host: example.com", version="1.0"),
        (Req(version="1.0", keep_alive=False),),
    ),
    Valid(
        "http/1.0 keep-alive and close",
        get("/", "Connection: keep-alive, close", version="1.0"),
        (Req(version="1.0", host=None, keep_alive=False),),
    ),
    Valid("connection close", get("/", "Connection: close"), (Req(keep_alive=False),)),
    Valid(
        "connection token list", get("/", "Connection: Upgrade,  CLOSE "), (Req(keep_alive=False),)
    ),
    Valid("connection keep-alive, upgrade", get("/", "Connection: keep-alive, Upgrade"), (Req(),)),
    Valid(
        "connection over two lines",
        get("/", "Connection: keep-alive", "Connection: close"),
        (Req(keep_alive=False),),
    ),
    # header fields
    Valid(
        "ows stripped, tabs inside kept",
        get("/", "X-A:  \t spaced\tvalue \t ", "X-B:tight"),
        (Req(headers=(("host", "example.com"), ("x-a", "spaced\tvalue"), ("x-b", "tight"))),),
    ),
    Valid(
        "empty value",
        get("/", "X-Empty:", "X-Blank:   "),
        (Req(headers=(("host", "example.com"), ("x-empty", ""), ("x-blank", ""))),),
    ),
    Valid(
        "obs-text in a value",
        get("/", "X-Name: caf\xe9"),
        (Req(headers=(("host", "example.com"), ("x-name", "caf\xe9"))),),
    ),
    Valid(
        "names lowercased, order kept, repeats kept",
        get("/", "X-CustOm: 1", "Accept: a", "ACCEPT: b"),
        (
            Req(
                headers=(
                    ("host", "example.com"),
                    ("x-custom", "1"),
                    ("accept", "a"),
                    ("accept", "b"),
                )
            ),
        ),
    ),
    Valid(
        "host ipv6 with port",
        b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        (Req(host="[::1]:8080"),),
    ),
    Valid("host ipv4", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", (Req(host="127.0.0.1"),)),
    Valid("host empty", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", (Req(host=""),)),
    # bodies
    Valid("content-length", post(b"hello", "Content-Length: 5"), (Req(**CL5),)),
    Valid(
        "content-length 0",
        post(b"", "Content-Length: 0"),
        (Req(method="POST", path="/submit", content_length=0),),
    ),
    Valid("content-length leading zeros", post(b"hello", "Content-Length: 005"), (Req(**CL5),)),
    Valid(
        "body bytes are not checked",
        post(b"a\r\n\r\nb\nc\x00", "Content-Length: 9"),
        (Req(method="POST", path="/submit", content_length=9, body=b"a\r\n\r\nb\nc\x00"),),
    ),
    Valid("chunked", chunked(b"5\r\nhello\r\n0\r\n\r\n"), (Req(**TE, body=b"hello"),)),
    Valid(
        "chunked, several chunks, upper and lower hex",
        chunked(b"3\r\nabc\r\nA\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n"),
        (Req(**TE, body=b"abc0123456789abcdefghij"),),
    ),
    Valid(
        "chunk size with leading zeros",
        chunked(b"0005\r\nhello\r\n000\r\n\r\n"),
        (Req(**TE, body=b"hello"),),
    ),
    Valid(
        "chunk extensions ignored",
        chunked(b'5;name=value\r\nhello\r\n1 ; a = "q\\"uoted;" ;flag\r\n!\r\n0;last\r\n\r\n'),
        (Req(**TE, body=b"hello!"),),
    ),
    Valid(
        "trailers",
        chunked(b"5\r\nhello\r\n0\r\nX-Checksum:  abc \r\nX-Other: 1\r\n\r\n"),
        (Req(**TE, body=b"hello", trailers=(("x-checksum", "abc"), ("x-other", "1"))),),
    ),
    Valid(
        "chunked, coding case-insensitive",
        post(b"0\r\n\r\n", "Transfer-Encoding: Chunked"),
        (Req(**TE),),
    ),
    Valid(
        "chunked, empty list elements ignored",
        post(b"0\r\n\r\n", "Transfer-Encoding: , chunked,"),
        (Req(**TE),),
    ),
    Valid(
        "chunked body with crlf inside",
        chunked(b"4\r\n\r\n\r\n\r\n0\r\n\r\n"),
        (Req(**TE, body=b"\r\n\r\n"),),
    ),
    Valid(
        "chunked body past the compaction point",
        chunked(b"11170\r\n" + b"x" * 0x11170 + b"\r\n1\r\ny\r\n0\r\nX-T: 1\r\n\r\n"),
        (Req(**TE, body=b"x" * 0x11170 + b"y", trailers=(("x-t", "1"),)),),
    ),
    # expect
    Valid(
        "expect 100-continue",
        post(b"hello", "Content-Length: 5", "Expect: 100-continue"),
        (Req(**CL5, expect_continue=True),),
    ),
    Valid(
        "expect 100-continue, chunked, any case",
        chunked(b"0\r\n\r\n", "Expect: 100-Continue"),
        (Req(**TE, expect_continue=True),),
    ),
    Valid("expect 100-continue without a body", get("/", "Expect: 100-continue"), (Req(),)),
    Valid(
        "expect 100-continue in http/1.0 is ignored",
        b"POST /submit HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
        (Req(**CL5, version="1.0", host=None, keep_alive=False),),
    ),
    # pipelining
    Valid("two gets", get("/a") + get("/b"), (Req(path="/a"), Req(path="/b"))),
    Valid(
        "post then get",
        post(b"hello", "Content-Length: 5") + get("/b"),
        (Req(**CL5), Req(path="/b")),
    ),
    Valid(
        "chunked then get",
        chunked(b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n") + b"\r\n" + get("/b"),
        (Req(**TE, body=b"hello", trailers=(("x-t", "1"),)), Req(path="/b")),
    ),
    # at the limits, not over them
    # "GET /aaa... HTTP/1.1" is 4 + 19 + 9 = 32 bytes
    Valid("request line at its limit", get("/" + "a" * 18), (Req(path="/" + "a" * 18),), SMALL),
    Valid(
        "header section at its limit",
        # host 19 + 22 + 21 + the empty line 2 = 64 bytes
        get("/", "X-1: " + "a" * 15, "X-2: " + "a" * 14),
        (Req(),),
        SMALL,
    ),
    Valid("max headers", get("/", "A: 1", "B: 2"), (Req(),), SMALL),
    Valid(
        "content-length at the limit",
        post(b"x" * 16, "Content-Length: 16"),
        (Req(method="POST", path="/submit", content_length=16, body=b"x" * 16),),
        {"max_body_bytes": 16},
    ),
    Valid(
        "chunked at the limit",
        chunked(b"8\r\nxxxxxxxx\r\n8\r\nxxxxxxxx\r\n0\r\n\r\n"),
        (Req(**TE, body=b"x" * 16),),
        {"max_body_bytes": 16},
    ),
]

INVALID: list[Invalid] = [
    # request line
    Invalid(
        "lowercase version", b"GET / http/1.1\r\nHost: a\r\n\r\n", 400, "malformed http version"
    ),
    Invalid("http/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    Invalid("http/0.9 written out", b"GET / HTTP/0.9\r\n\r\n", 505),
    Invalid("http/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
    Invalid("two-digit minor", b"GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
    Invalid("no minor", b"GET / HTTP/1\r\nHost: a\r\n\r\n", 400),
    Invalid("garbage version", b"GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400),
    Invalid("no version", b"GET /\r\nHost: a\r\n\r\n", 400, "malformed request line"),
    Invalid("two spaces", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    Invalid("leading space", b" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    Invalid("trailing space", b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    Invalid("tab as separator", b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    Invalid("method not a token", b"GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    Invalid("fragment in target", b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    Invalid("non-ascii target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    Invalid("authority-form with get", b"GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    Invalid("connect", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501),
    Invalid("asterisk with get", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "asterisk-form"),
    Invalid(
        "absolute-form userinfo", b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "authority"
    ),
    Invalid("absolute-form ftp", b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "scheme"),
    Invalid("absolute-form no authority", b"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    Invalid("leading bare lf", b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    # line endings and bytes
    Invalid("bare lf line endings", b"GET / HTTP/1.1\nHost: a\n\n", 400, "bare cr or lf"),
    Invalid("bare lf after a field", b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400),
    Invalid("bare lf ends the head", b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
    Invalid("bare cr in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
    Invalid("bare cr in the request line", b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    Invalid("nul in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, "control"),
    Invalid("control char in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400),
    Invalid("del in a name", b"GET / HTTP/1.1\r\nHost: a\r\nX\x7f: b\r\n\r\n", 400),
    Invalid("del in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n", 400),
    # field lines
    Invalid(
        "space before colon",
        chunked(b"0\r\n\r\n", "Transfer-Encoding : chunked"),
        400,
        "before the colon",
    ),
    Invalid("tab before colon", get("/", "X\t: b"), 400),
    Invalid("obs-fold", get("/", "X-A: one", " two"), 400, "folding"),
    Invalid("obs-fold with tab", get("/", "X-A: one", "\ttwo"), 400),
    Invalid("empty name", get("/", ": value"), 400, "empty field name"),
    Invalid("no colon", get("/", "X-A value"), 400, "without a colon"),
    Invalid("name not a token", get("/", "X(A): value"), 400),
    # host
    Invalid("missing host", b"GET / HTTP/1.1\r\nX: b\r\n\r\n", 400, "missing host"),
    Invalid("two hosts", get("/", "Host: other.example"), 400, "more than one host"),
    Invalid("two equal hosts", get("/", "Host: example.com"), 400),
    Invalid("host with a space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid host"),
    Invalid("host with a slash", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    Invalid("host with userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
    Invalid("host with a bad port", b"GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400),
    Invalid("bad host in http/1.0", b"GET / HTTP/1.0\r\nHost: a b\r\n\r\n", 400),
    # message framing: the smuggling classics
    Invalid(
        "cl and te",
        post(b"0\r\n\r\n", "Content-Length: 5", "Transfer-Encoding: chunked"),
        400,
        "both",
    ),
    Invalid(
        "te and cl", post(b"0\r\n\r\n", "Transfer-Encoding: chunked", "Content-Length: 5"), 400
    ),
    Invalid(
        "te and cl 0", post(b"0\r\n\r\n", "Transfer-Encoding: chunked", "Content-Length: 0"), 400
    ),
    Invalid(
        "two equal cl",
        post(b"hello", "Content-Length: 5", "Content-Length: 5"),
        400,
        "more than one",
    ),
    Invalid("two different cl", post(b"hello", "Content-Length: 5", "Content-Length: 6"), 400),
    Invalid("cl list", post(b"hello", "Content-Length: 5, 5"), 400, "invalid content-length"),
    Invalid("cl plus sign", post(b"hello", "Content-Length: +5"), 400),
    Invalid("cl minus sign", post(b"hello", "Content-Length: -5"), 400),
    Invalid("cl with a space inside", post(b"hello", "Content-Length: 5 5"), 400),
    Invalid("cl hex", post(b"hello", "Content-Length: 0x5"), 400),
    Invalid("cl empty", post(b"hello", "Content-Length:"), 400),
    Invalid("cl superscript digit", post(b"hello", "Content-Length: \xb2"), 400),
    Invalid("cl huge", post(b"hello", "Content-Length: " + "9" * 40), 413),
    Invalid(
        "cl over the limit", post(b"x" * 17, "Content-Length: 17"), 413, "over the limit", SMALL
    ),
    Invalid(
        "te xchunked",
        post(b"0\r\n\r\n", "Transfer-Encoding: xchunked"),
        400,
        "must end in one chunked",
    ),
    Invalid("te chunked twice", post(b"0\r\n\r\n", "Transfer-Encoding: chunked, chunked"), 400),
    Invalid(
        "te chunked on two lines",
        post(b"0\r\n\r\n", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"),
        400,
    ),
    Invalid("te gzip then chunked", post(b"0\r\n\r\n", "Transfer-Encoding: gzip, chunked"), 501),
    Invalid(
        "te gzip line then chunked line",
        post(b"0\r\n\r\n", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked"),
        501,
    ),
    Invalid("te chunked then gzip", post(b"0\r\n\r\n", "Transfer-Encoding: chunked, gzip"), 400),
    Invalid("te gzip alone", post(b"0\r\n\r\n", "Transfer-Encoding: gzip"), 400),
    Invalid(
        "te chunked with a parameter", post(b"0\r\n\r\n", "Transfer-Encoding: chunked;q=1"), 400
    ),
    Invalid("te bad coding token", post(b"0\r\n\r\n", "Transfer-Encoding: g(zip, chunked"), 400),
    Invalid("te empty", post(b"0\r\n\r\n", "Transfer-Encoding:"), 400),
    Invalid("te vertical tab", post(b"0\r\n\r\n", "Transfer-Encoding: \x0bchunked"), 400),
    Invalid(
        "te in http/1.0",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "http/1.0",
    ),
    # chunked bodies
    Invalid("chunk size plus", chunked(b"+5\r\nhello\r\n0\r\n\r\n"), 400, "illegal chunk header"),
    Invalid("chunk size minus", chunked(b"-5\r\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk size 0x", chunked(b"0x5\r\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk size leading space", chunked(b" 5\r\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk size trailing space", chunked(b"5 \r\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk size with a space inside", chunked(b"5 5\r\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk size empty", chunked(b"\r\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk size not hex", chunked(b"g\r\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk size 17 digits", chunked(b"00000000000000005\r\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk size overflow", chunked(b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk size bare lf", chunked(b"5\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk ext without a name", chunked(b"5;=x\r\nhello\r\n0\r\n\r\n"), 400),
    Invalid("chunk ext open quote", chunked(b'5;a="x\r\nhello\r\n0\r\n\r\n'), 400),
    Invalid(
        "chunk data too long", chunked(b"5\r\nhellox\r\n0\r\n\r\n"), 400, "not followed by crlf"
    ),
    Invalid("chunk data then bare lf", chunked(b"5\r\nhello\n0\r\n\r\n"), 400),
    Invalid("chunk data then bare cr", chunked(b"5\r\nhello\r0\r\n\r\n"), 400),
    Invalid(
        "chunk-size line too long", chunked(b"5;a=" + b"b" * 5000 + b"\r\nhello\r\n0\r\n\r\n"), 400
    ),
    Invalid("trailer space before colon", chunked(b"0\r\nX-T : 1\r\n\r\n"), 400),
    Invalid("trailer bare lf", chunked(b"0\r\nX-T: 1\n\r\n"), 400),
    Invalid("trailer nul", chunked(b"0\r\nX-T: \x00\r\n\r\n"), 400),
    Invalid(
        "chunked over the limit",
        chunked(b"8\r\nxxxxxxxx\r\n9\r\nxxxxxxxxx\r\n0\r\n\r\n"),
        413,
        "",
        SMALL,
    ),
    Invalid(
        "one chunk over the limit",
        chunked(b"11\r\n" + b"x" * 17 + b"\r\n0\r\n\r\n"),
        413,
        "",
        SMALL,
    ),
    Invalid(
        "trailer section too big",
        chunked(b"0\r\nX-Trailer: " + b"t" * 60 + b"\r\n\r\n"),
        431,
        "trailer section",
        SMALL,
    ),
    Invalid(
        "too many trailers", chunked(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"), 431, "", SMALL
    ),
    # limits
    Invalid("request line too long", get("/" + "a" * 19), 414, "request line", SMALL),
    Invalid("request line too long, defaults", get("/" + "a" * 8192), 414),
    Invalid(
        "header section too big", get("/", "X-1: " + "a" * 15, "X-2: " + "a" * 15), 431, "", SMALL
    ),
    Invalid("header section too big, defaults", get("/", "X-Big: " + "b" * 16384), 431),
    Invalid("too many headers", get("/", "A: 1", "B: 2", "C: 3"), 431, "more than 3", SMALL),
    Invalid("too many headers, defaults", get("/", *(f"X-{i}: {i}" for i in range(100))), 431),
    # expect
    Invalid("expect other", post(b"hello", "Content-Length: 5", "Expect: 200-ok"), 417),
    Invalid("expect list", post(b"hello", "Content-Length: 5", "Expect: 100-continue, x"), 417),
    Invalid("expect other without a body", get("/", "Expect: foo"), 417),
    # pipelining: a good request, then a bad one
    Invalid("bad second request", get("/a") + b"GET / HTTP/1.1\r\n\r\n", 400, "missing host"),
    Invalid("smuggled second request", post(b"hello", "Content-Length: 5") + b"GET /\r\n\r\n", 400),
]
