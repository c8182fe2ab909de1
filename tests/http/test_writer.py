"""ResponseWriter and chunk(): the exact bytes of response heads, who owns framing,
and refusal of header injection."""

from __future__ import annotations

import pytest

from gateway.errors import GatewayError
from gateway.http.writer import (
    CONTINUE,
    LAST_CHUNK,
    REASONS,
    Framing,
    HeaderError,
    ResponseWriter,
    chunk,
)

DATE = "date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"


@pytest.fixture
def writer() -> ResponseWriter:
    w = ResponseWriter()
    w.set_date(0)
    return w


def test_typical_head(writer: ResponseWriter) -> None:
    head, framing = writer.head(
        200, [("content-type", "text/html; charset=utf-8")], content_length=12, keep_alive=True
    )
    assert head == (
        b"HTTP/1.1 200 OK\r\n"
        b"content-type: text/html; charset=utf-8\r\n"
        b"date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        b"server: gateway\r\n"
        b"content-length: 12\r\n"
        b"\r\n"
    )
    assert framing is Framing.LENGTH


def test_no_date_before_set_date() -> None:
    head, _ = ResponseWriter(server="edge").head(404, [], content_length=0, keep_alive=True)
    assert head == b"HTTP/1.1 404 Not Found\r\nserver: edge\r\ncontent-length: 0\r\n\r\n"


def test_set_date_formats_imf_fixdate() -> None:
    w = ResponseWriter(server="")
    w.set_date(1_700_000_000.9)
    head, _ = w.head(200, [], content_length=0, keep_alive=True)
    assert head == (
        b"HTTP/1.1 200 OK\r\ndate: Tue, 14 Nov 2023 22:13:20 GMT\r\ncontent-length: 0\r\n\r\n"
    )


def test_header_order_and_case_kept(writer: ResponseWriter) -> None:
    head, _ = writer.head(
        201,
        [
            ("X-Request-Id", "abc"),
            ("location", "/new"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ],
        content_length=0,
        keep_alive=True,
    )
    assert head == (
        b"HTTP/1.1 201 Created\r\nX-Request-Id: abc\r\nlocation: /new\r\nset-cookie: a=1\r\n"
        b"set-cookie: b=2\r\n" + DATE.encode() + b"server: gateway\r\ncontent-length: 0\r\n\r\n"
    )


def test_caller_date_and_server_win(writer: ResponseWriter) -> None:
    head, _ = writer.head(
        200,
        [("Date", "Mon, 01 Jan 2024 00:00:00 GMT"), ("server", "mine")],
        content_length=0,
        keep_alive=True,
    )
    assert head == (
        b"HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nserver: mine\r\n"
        b"content-length: 0\r\n\r\n"
    )


def test_caller_framing_headers_dropped(writer: ResponseWriter) -> None:
    head, framing = writer.head(
        200,
        [
            ("Content-Length", "999"),
            ("transfer-encoding", "gzip"),
            ("Connection", "upgrade"),
            ("keep-alive", "timeout=5"),
            ("x-kept", "1"),
        ],
        content_length=3,
        keep_alive=True,
    )
    assert head == (
        b"HTTP/1.1 200 OK\r\nx-kept: 1\r\n" + DATE.encode() + b"server: gateway\r\n"
        b"content-length: 3\r\n\r\n"
    )
    assert framing is Framing.LENGTH


def test_streamed_body_is_chunked_in_http_11(writer: ResponseWriter) -> None:
    head, framing = writer.head(200, [], content_length=None, keep_alive=True)
    assert head == (
        b"HTTP/1.1 200 OK\r\n" + DATE.encode() + b"server: gateway\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    assert framing is Framing.CHUNKED


def test_streamed_body_in_http_10_ends_at_close(writer: ResponseWriter) -> None:
    head, framing = writer.head(200, [], content_length=None, keep_alive=True, http_version="1.0")
    assert head == (
        b"HTTP/1.1 200 OK\r\n" + DATE.encode() + b"server: gateway\r\nconnection: close\r\n\r\n"
    )
    assert framing is Framing.CLOSE


def test_http_10_keep_alive(writer: ResponseWriter) -> None:
    head, framing = writer.head(200, [], content_length=2, keep_alive=True, http_version="1.0")
    assert head == (
        b"HTTP/1.1 200 OK\r\n" + DATE.encode() + b"server: gateway\r\ncontent-length: 2\r\n"
        b"connection: keep-alive\r\n\r\n"
    )
    assert framing is Framing.LENGTH


def test_http_10_close(writer: ResponseWriter) -> None:
    head, _ = writer.head(200, [], content_length=2, keep_alive=False, http_version="1.0")
    assert head.endswith(b"content-length: 2\r\nconnection: close\r\n\r\n")


def test_http_11_close(writer: ResponseWriter) -> None:
    head, framing = writer.head(400, [], content_length=5, keep_alive=False)
    assert head == (
        b"HTTP/1.1 400 Bad Request\r\n" + DATE.encode() + b"server: gateway\r\n"
        b"content-length: 5\r\nconnection: close\r\n\r\n"
    )
    assert framing is Framing.LENGTH


@pytest.mark.parametrize("status", [204, 304])
@pytest.mark.parametrize("length", [None, 0, 10])
def test_no_body_statuses(writer: ResponseWriter, status: int, length: int | None) -> None:
    head, framing = writer.head(status, [("etag", '"x"')], content_length=length, keep_alive=True)
    assert (
        head
        == (
            f'HTTP/1.1 {status} {REASONS[status]}\r\netag: "x"\r\n{DATE}server: gateway\r\n\r\n'
        ).encode()
    )
    assert framing is Framing.NONE


def test_interim_response(writer: ResponseWriter) -> None:
    head, framing = writer.head(
        103, [("link", "</a.css>; rel=preload")], content_length=None, keep_alive=False
    )
    assert head == (
        b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n"
        + DATE.encode()
        + b"server: gateway\r\n\r\n"
    )
    assert framing is Framing.NONE


def test_head_request_gets_get_headers_and_no_body(writer: ResponseWriter) -> None:
    head, framing = writer.head(200, [], content_length=1234, keep_alive=True, head_request=True)
    assert head.endswith(b"content-length: 1234\r\n\r\n")
    assert framing is Framing.NONE
    head, framing = writer.head(200, [], content_length=None, keep_alive=True, head_request=True)
    assert head.endswith(b"transfer-encoding: chunked\r\n\r\n")
    assert framing is Framing.NONE


def test_head_request_in_http_10_with_unknown_length_keeps_alive(writer: ResponseWriter) -> None:
    head, framing = writer.head(
        200, [], content_length=None, keep_alive=True, http_version="1.0", head_request=True
    )
    assert head == (
        b"HTTP/1.1 200 OK\r\n"
        + DATE.encode()
        + b"server: gateway\r\nconnection: keep-alive\r\n\r\n"
    )
    assert framing is Framing.NONE


def test_head_request_no_body_status(writer: ResponseWriter) -> None:
    head, framing = writer.head(304, [], content_length=10, keep_alive=True, head_request=True)
    assert b"content-length" not in head
    assert framing is Framing.NONE


def test_unknown_status_has_empty_reason(writer: ResponseWriter) -> None:
    head, _ = writer.head(299, [], content_length=0, keep_alive=True)
    assert head.startswith(b"HTTP/1.1 299 \r\n")


@pytest.mark.parametrize("status", [0, 99, 1000, -200])
def test_status_out_of_range(writer: ResponseWriter, status: int) -> None:
    with pytest.raises(ValueError, match="three-digit"):
        writer.head(status, [], content_length=0, keep_alive=True)


def test_negative_content_length(writer: ResponseWriter) -> None:
    with pytest.raises(ValueError, match="negative"):
        writer.head(200, [], content_length=-1, keep_alive=True)


@pytest.mark.parametrize(
    "header",
    [
        ("x-evil", "a\r\nset-cookie: pwned=1"),
        ("x-evil", "a\nb"),
        ("x-evil", "a\rb"),
        ("x-evil", "a\x00b"),
        ("x-evil", "\r\n"),
        ("x-evil", "snow \u2603"),
        ("x evil", "a"),
        ("x-evil\r\nset-cookie", "a"),
        ("x:evil", "a"),
        ("", "a"),
    ],
)
def test_injection_refused(writer: ResponseWriter, header: tuple[str, str]) -> None:
    with pytest.raises(HeaderError):
        writer.head(200, [("ok", "1"), header], content_length=0, keep_alive=True)


def test_header_error_is_a_value_error_of_the_gateway_family() -> None:
    assert issubclass(HeaderError, ValueError)
    assert issubclass(HeaderError, GatewayError)


def test_bad_server_name_refused() -> None:
    with pytest.raises(HeaderError):
        ResponseWriter(server="gw\r\nx: y")


def test_latin1_values_allowed(writer: ResponseWriter) -> None:
    head, _ = writer.head(200, [("x-name", "café")], content_length=0, keep_alive=True)
    assert b"x-name: caf\xe9\r\n" in head


def test_chunk() -> None:
    assert chunk(b"hello") == b"5\r\nhello\r\n"
    assert chunk(b"x" * 300) == b"12c\r\n" + b"x" * 300 + b"\r\n"
    assert chunk(b"") == b""
    assert LAST_CHUNK == b"0\r\n\r\n"
    assert CONTINUE == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_writer_output_parses_back() -> None:
    """A chunked response read back with the request parser's chunked reader."""
    from gateway.http.body import ChunkedReader

    body = chunk(b"abc") + chunk(b"") + chunk(b"defgh") + LAST_CHUNK
    reader = ChunkedReader(100, 100, 10)
    data, pos = reader.read(bytearray(body), 0)
    assert (data, pos, reader.done) == (b"abcdefgh", len(body), True)
