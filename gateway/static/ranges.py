"""Byte ranges (RFC 9110 §14): a Range header against a file size -> sorted, coalesced spans,
and the multipart/byteranges response for several. Parsing is total: a malformed or abusive
header is None (send the whole file), so a Range can never cost more than the file does."""

from __future__ import annotations

import os
import re
import secrets

from gateway.response import FileBody, HeaderList, Response

# More range-specs than this is not a media player or a PDF reader; it is a DoS attempt
# (CVE-2011-3192 style), and the whole file is the cheapest honest answer.
MAX_RANGES = 16
# Several ranges are read into memory to build one multipart body; past this, send it all.
MAX_MULTIPART_BYTES = 4 * 1024 * 1024

_RANGE_SPEC = re.compile(r"(\d*)-(\d*)")
# 18 digits is past any file; longer numbers are clamped instead of parsed, since int() on
# thousands of digits is slow (and limited) and means "to the end" anyway.
_MAX_DIGITS = 18
_HUGE = 10**_MAX_DIGITS

Span = tuple[int, int]  # first and last byte, inclusive, as Content-Range writes them


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_DIGITS else _HUGE


def parse_range(value: str, size: int) -> list[Span] | None:
    """`bytes=0-99`, `bytes=100-`, `bytes=-500`, or several, against a file of `size` bytes.

    Returns the satisfiable spans sorted with overlapping and adjacent ones merged; [] when
    none is satisfiable (416); None when the header should be ignored (200): another unit,
    a syntax error, last < first, more than MAX_RANGES specs, a total past the file size
    (overlap abuse), or an empty file (no Content-Range can describe a range of nothing)."""
    unit, sep, spec_list = value.partition("=")
    if not sep or unit.strip().lower() != "bytes" or size <= 0:
        return None
    specs = [s.strip() for s in spec_list.split(",")]
    specs = [s for s in specs if s]  # the list rule allows empty elements
    if not specs or len(specs) > MAX_RANGES:
        return None
    spans: list[Span] = []
    for spec in specs:
        match = _RANGE_SPEC.fullmatch(spec)
        if match is None:
            return None
        first, last = match.groups()
        if first:
            start = _number(first)
            end = _number(last) if last else _HUGE
            if end < start:
                return None
            if start < size:
                spans.append((start, min(end, size - 1)))
        elif last:
            suffix = _number(last)
            if suffix > 0:
                spans.append((max(size - suffix, 0), size - 1))
        else:
            return None  # a lone "-"
    if len(spans) > 1 and sum(end - start + 1 for start, end in spans) > size:
        return None
    return coalesce(spans)


def coalesce(spans: list[Span]) -> list[Span]:
    """Sorted spans with overlapping and touching ones merged (RFC 9110 §14.2 allows it)."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def content_range(span: Span, size: int) -> str:
    return f"bytes {span[0]}-{span[1]}/{size}"


def span_bytes(spans: list[Span]) -> int:
    return sum(end - start + 1 for start, end in spans)


def _pread_exact(fd: int, length: int, offset: int) -> bytes | None:
    chunks: list[bytes] = []
    while length > 0:
        chunk = os.pread(fd, length, offset)
        if not chunk:
            return None  # the file shrank since fstat
        chunks.append(chunk)
        length -= len(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def multipart_body(
    fd: int, spans: list[Span], size: int, content_type: str, boundary: str
) -> bytes | None:
    """The multipart/byteranges body (RFC 9110 §14.6) for `spans` of the open file `fd`:
    each part carries the file's Content-Type and its Content-Range. None if the file is
    now shorter than `size`, since the parts could no longer say what they hold."""
    parts: list[bytes] = []
    for span in spans:
        data = _pread_exact(fd, span[1] - span[0] + 1, span[0])
        if data is None:
            return None
        head = (
            f"--{boundary}\r\ncontent-type: {content_type}\r\n"
            f"content-range: {content_range(span, size)}\r\n\r\n"
        )
        parts += (head.encode("latin-1"), data, b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode("latin-1"))
    return b"".join(parts)


def multipart_response(
    body: FileBody, size: int, spans: list[Span], content_type: str, headers: HeaderList
) -> Response:
    """206 multipart/byteranges for several spans of the open file `body`, which it closes;
    or 200 with the whole file past MAX_MULTIPART_BYTES (the parts are read into one bytes
    body) or if the file shrank since fstat (the writer then sends what is left and closes)."""
    if span_bytes(spans) > MAX_MULTIPART_BYTES:
        return Response(200, body, headers)
    boundary = secrets.token_hex(16)
    data = multipart_body(body.fd, spans, size, content_type, boundary)
    if data is None:
        return Response(200, body, headers)
    body.close()
    multipart = ("content-type", f"multipart/byteranges; boundary={boundary}")
    return Response(206, data, [multipart, *(h for h in headers if h[0] != "content-type")])
