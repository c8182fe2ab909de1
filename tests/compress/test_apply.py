"""compress_response: when a Response is compressed, the headers it changes (Vary merged,
ETag per representation, Accept-Ranges dropped) and the 304 owed to a client that holds
the compressed representation's ETag (what Caddy #5849 / #7096 got wrong)."""

from __future__ import annotations

import zlib

import pytest

from gateway.compress import (
    Policy,
    coded_etag,
    compress_response,
    decompress_body,
    etag_matches,
    merge_vary,
)
from gateway.response import FileBody, PushBody, Response

BIG = b"<p>hello, world</p>\n" * 200
GZ = Policy(codings=("gzip",))


def html(body: bytes = BIG, status: int = 200, **headers: str) -> Response:
    extra = [(k.replace("_", "-"), v) for k, v in headers.items()]
    return Response(status, body, extra, content_type="text/html; charset=utf-8")


def test_compresses_a_big_text_body() -> None:
    response = compress_response(html(etag='"v1"'), "gzip, br", "GET", GZ)
    assert response.get_header("content-encoding") == "gzip"
    assert response.get_header("vary") == "Accept-Encoding"
    assert response.get_header("etag") == '"v1-gzip"'
    assert isinstance(response.body, bytes)
    assert decompress_body("gzip", response.body) == BIG


@pytest.mark.parametrize(
    ("response", "method"),
    [
        (html(b"tiny"), "GET"),
        (Response(200, BIG, content_type="image/png"), "GET"),
        (Response(200, BIG), "GET"),  # no content type: unknown, left alone
        (html(status=206, content_range="bytes 0-9/4000"), "GET"),
        (html(status=204), "GET"),
        (html(status=304), "GET"),
        (html(content_encoding="br"), "GET"),
        (html(cache_control="public, No-Transform"), "GET"),
        (html(), "HEAD"),
    ],
)
def test_left_uncompressed(response: Response, method: str) -> None:
    before = response.body
    compress_response(response, "gzip", method, GZ)
    assert response.get_header("content-encoding") in (None, "br")
    assert response.body == before


def test_head_gets_vary_but_no_coding() -> None:
    response = compress_response(html(), "gzip", "HEAD", GZ)
    assert response.get_header("vary") == "Accept-Encoding"
    assert response.body == BIG


def test_identity_client_still_gets_vary() -> None:
    # The representation depends on Accept-Encoding even when this one is identity:
    # a shared cache must not hand it to the next client that accepts gzip, or vice versa.
    response = compress_response(html(), None, "GET", GZ)
    assert response.get_header("content-encoding") is None
    assert response.get_header("vary") == "Accept-Encoding"


def test_incompressible_bytes_stay_identity() -> None:
    import os

    noise = os.urandom(4096)
    response = compress_response(Response(200, noise, content_type="text/plain"), "gzip", "GET", GZ)
    assert response.body == noise
    assert response.get_header("content-encoding") is None


def test_vary_is_merged_not_duplicated() -> None:
    response = html(vary="Origin")
    merge_vary(response)
    merge_vary(response)
    assert [v for n, v in response.headers if n == "vary"] == ["Origin, Accept-Encoding"]
    star = html(vary="*")
    merge_vary(star)
    assert star.get_header("vary") == "*"
    already = html(Vary="accept-encoding")
    merge_vary(already)
    assert already.get_header("vary") == "accept-encoding"


def test_accept_ranges_is_dropped_when_encoded() -> None:
    response = compress_response(html(accept_ranges="bytes"), "gzip", "GET", GZ)
    assert response.get_header("accept-ranges") is None


@pytest.mark.parametrize(
    ("etag", "expected"),
    [('"abc"', '"abc-br"'), ('W/"abc"', 'W/"abc"'), ("junk", "junk"), ('""', '"-br"')],
)
def test_coded_etag(etag: str, expected: str) -> None:
    assert coded_etag(etag, "br") == expected


def test_client_holding_the_coded_etag_gets_304_with_that_etag() -> None:
    response = compress_response(
        html(etag='"v1"', cache_control="no-cache", x_other="dropped"),
        "gzip",
        "GET",
        GZ,
        if_none_match='"zzz", W/"v1-gzip"',
    )
    assert response.status == 304
    assert response.body == b""
    assert response.get_header("etag") == '"v1-gzip"'
    assert response.get_header("vary") == "Accept-Encoding"
    assert response.get_header("cache-control") == "no-cache"
    assert response.get_header("x-other") is None
    assert response.get_header("content-type") is None


def test_identity_etag_does_not_validate_the_gzip_representation() -> None:
    response = compress_response(html(etag='"v1"'), "gzip", "GET", GZ, if_none_match='"v1"')
    assert response.status == 200
    assert response.get_header("etag") == '"v1-gzip"'
    plain = compress_response(html(etag='"v1"'), None, "GET", GZ, if_none_match='"v1"')
    assert plain.status == 304  # the identity client holding the identity tag


def test_no_304_for_unsafe_methods() -> None:
    response = compress_response(html(etag='"v1"'), None, "POST", GZ, if_none_match="*")
    assert response.status == 200


def test_etag_matches() -> None:
    assert etag_matches("*", '"a"')
    assert etag_matches('W/"a"', '"a"')
    assert etag_matches('"b" , "a"', 'W/"a"')
    assert not etag_matches('"ab"', '"a"')
    assert not etag_matches('"a"', "bogus")


def _gunzip(data: bytes) -> bytes:
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)


def test_streamed_body_is_compressed_chunk_by_chunk_and_closed() -> None:
    closed = []

    def events():  # type: ignore[no-untyped-def]
        try:
            for i in range(3):
                yield b"data: %d\n\n" % i
        finally:
            closed.append(True)

    response = Response(200, events(), content_type="text/event-stream")
    compress_response(response, "gzip", "GET", GZ)
    assert response.get_header("content-encoding") == "gzip"
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    chunks = list(response.body)  # type: ignore[arg-type]
    assert all(chunks)
    assert [decoder.decompress(c) for c in chunks[:3]] == [
        b"data: 0\n\n",
        b"data: 1\n\n",
        b"data: 2\n\n",
    ]
    assert closed == [True]


def test_push_body_is_compressed_as_taken() -> None:
    inner = PushBody()
    response = Response(200, b"", content_type="text/event-stream")
    response.body = inner
    compress_response(response, "gzip", "GET", GZ)
    body = response.body
    assert isinstance(body, PushBody) and body is not inner
    woke = []
    body.waiter = lambda: woke.append(1)  # the connection waits on the wrapper
    assert body.take() == b""
    inner.push(b"data: hi\n\n")  # the producer pushes into the body it holds
    assert woke == [1]
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert decoder.decompress(body.take() or b"") == b"data: hi\n\n"
    inner.end()
    tail = body.take()
    assert tail and decoder.decompress(tail) == b"" and decoder.eof
    assert body.take() is None


def test_file_body_from_a_handler_is_left_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    path = tmp_path / "f.txt"
    path.write_bytes(BIG)
    fd = os.open(path, os.O_RDONLY)
    response = Response(200, FileBody(fd, 0, len(BIG)), content_type="text/plain")
    compress_response(response, "gzip", "GET", GZ)
    assert response.get_header("content-encoding") is None
    response.close()


def test_compress_for_reads_the_request() -> None:
    from gateway.compress import compress_for
    from gateway.http.headers import Headers
    from gateway.request import Request

    request = Request(
        "GET", "/", Headers([("accept-encoding", "gzip"), ("if-none-match", '"v2-gzip"')])
    )
    response = compress_for(request, html(etag='"v2"'), GZ)
    assert response.status == 304 and response.get_header("etag") == '"v2-gzip"'
