"""The total of chunk extensions in one body is capped (RFC 9112 §7.1.1: a server ought to
limit it): max_body_bytes counts data only, so without this a body of 1-byte chunks with
4 KiB extensions costs thousands of times its limit on the wire. Each body is fed whole,
byte by byte and in random splits, through the careful path, the fast path and the run path."""

from __future__ import annotations

import pytest

from gateway.http.body import MAX_CHUNK_EXTENSIONS
from gateway.http.parser import RequestParser
from tests.http.test_parser import SPLITS, expect_error, replay

HEAD = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"


def body(count: int, extension: bytes, size: int = 1) -> bytes:
    line = b"%x%s\r\n" % (size, extension)
    return b"".join(line + b"x" * size + b"\r\n" for _ in range(count)) + b"0\r\n\r\n"


# (extension per chunk, chunks): exactly MAX_CHUNK_EXTENSIONS bytes of them. Short ones on
# 1-byte chunks go through the run path (identical small chunks), long ones through the
# fast path and, split, the careful one.
AT_CAP = [(b";" + b"e" * 63, MAX_CHUNK_EXTENSIONS // 64), (b";n=" + b"v" * 1021, 16)]


@pytest.mark.parametrize("split", ["whole", "bytes", "random1", "random2"])
@pytest.mark.parametrize(("extension", "count"), AT_CAP)
def test_extensions_up_to_the_cap_are_read_and_ignored(
    extension: bytes, count: int, split: str
) -> None:
    raw = HEAD + body(count, extension) + NEXT
    messages = replay(RequestParser(), SPLITS[split](raw), want=2)
    assert [m.ended for m in messages] == [True, True]
    assert messages[0].body == b"x" * count
    assert messages[1].head.path == "/next"


@pytest.mark.parametrize("split", ["whole", "bytes", "random1", "random2"])
@pytest.mark.parametrize(("extension", "count"), AT_CAP)
def test_one_extension_byte_over_the_cap_is_413(extension: bytes, count: int, split: str) -> None:
    raw = HEAD + body(count, extension) + b"1;x\r\nx\r\n0\r\n\r\n" + NEXT
    raw = raw.replace(b"0\r\n\r\n1;x", b"1;x", 1)  # the extra chunk before the last one
    error = expect_error(RequestParser(), SPLITS[split](raw), want=2)
    assert error.status == 413
    assert f"over {MAX_CHUNK_EXTENSIONS} bytes" in error.detail


@pytest.mark.parametrize("split", ["whole", "random1"])
def test_many_tiny_chunks_with_long_extensions_stop_at_the_cap(split: str) -> None:
    """What the cap is for: 4 KiB extensions on 1-byte chunks, far under max_body_bytes,
    refused after about 16 KiB of them, not after max_body_bytes chunks."""
    raw = HEAD + body(1000, b";" + b"e" * 4000)
    parser = RequestParser()
    error = expect_error(parser, SPLITS[split](raw), want=1)
    assert error.status == 413


def test_chunks_without_extensions_are_not_counted() -> None:
    raw = HEAD + body(50_000, b"") + NEXT
    messages = replay(RequestParser(), [raw], want=2)
    assert len(messages[0].body) == 50_000 and messages[1].ended
