"""A strict reference reading of RFC 9112 requests for the fuzzer (test_fuzz_parser.py): written
apart from gateway.http, plainly and slowly, so that where the two disagree on where a message
ends or whether it is acceptable, one of them is wrong. It reads whole inputs only."""

from __future__ import annotations

import re

# RFC 9110 §5.6.2 token; §5.5 field-vchar / obs-text; RFC 9112 §3 request-line.
TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
# origin-form characters gateway accepts: visible ASCII but "#" (a fragment never reaches us)
TARGET = re.compile(rb"[!\"$-~]+")
ABSOLUTE = re.compile(rb"(?i:https?)://([^/?]+)([^?]*)(?:\?.*)?", re.DOTALL)
# RFC 3986 §3.2.2 host [ ":" port ]: IP-literal or reg-name (which covers IPv4address)
HOST = re.compile(
    rb"(?:\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[-._~!$&'()*+,;=:0-9A-Za-z]+)\]"
    rb"|(?:[-._~!$&'()*+,;=0-9A-Za-z]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?"
)
CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})"
    rb"(?:[ \t]*;[ \t]*[-!#$%&'*+.^_`|~0-9A-Za-z]+"
    rb"(?:[ \t]*=[ \t]*(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+"
    rb'|"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"))?)*'
)
MAX_CHUNK_LINE = 4096

Verdict = list[tuple[object, ...]]


class Refused(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(f"{status} {why}")
        self.status = status


def read_requests(raw: bytes, limits: dict[str, int]) -> Verdict:
    """Every request in `raw`: ("head", method, target, version, fields, content_length,
    chunked), ("end", body, trailers); then ("error", status) or ("need data",)."""
    out: Verdict = []
    pos = 0
    try:
        while True:
            while raw.startswith(b"\r\n", pos):
                pos += 2
            if pos == len(raw):
                return [*out, ("need data",)]
            end = raw.find(b"\r\n\r\n", pos)
            if end < 0:
                _partial_head(raw[pos:], limits)
                return [*out, ("need data",)]
            head, framing = _head(raw[pos:end], limits)
            out.append(head)
            pos = end + 4
            if framing == "over":
                raise Refused(413, "content-length over the limit")
            if framing == "chunked":
                body, trailers, pos = _chunked(raw, pos, limits)
                if body is None:
                    return [*out, ("need data",)]
            else:
                length = int(framing) if framing.isdigit() else 0
                if len(raw) - pos < length:
                    return [*out, ("need data",)]
                body, trailers, pos = raw[pos : pos + length], None, pos + length
            out.append(("end", body, trailers))
    except Refused as refused:
        return [*out, ("error", refused.status)]


def _partial_head(part: bytes, limits: dict[str, int]) -> None:
    """What an incomplete head already shows: a bare CR or LF, a request line too long or
    malformed, a header section over its limits."""
    _bare_eol(part.removesuffix(b"\r"))
    line_end = part.find(b"\r\n")
    if line_end < 0:
        if len(part) > limits["max_request_line"] + 1:
            raise Refused(414, "request line")
        return
    _request_line(part[:line_end], limits)
    fields = part[line_end + 2 :]
    if len(fields) > limits["max_header_bytes"]:
        raise Refused(431, "header bytes")
    if fields.count(b"\r\n") > limits["max_headers"]:
        raise Refused(431, "header count")


def _bare_eol(data: bytes) -> None:
    if data.count(b"\r") != data.count(b"\r\n") or data.count(b"\n") != data.count(b"\r\n"):
        raise Refused(400, "bare cr or lf")


def _request_line(line: bytes, limits: dict[str, int]) -> tuple[bytes, bytes, bytes]:
    if len(line) > limits["max_request_line"]:
        raise Refused(414, "request line")
    parts = line.split(b" ")
    if len(parts) != 3 or not TOKEN.fullmatch(parts[0]) or not TARGET.fullmatch(parts[1]):
        raise Refused(400, "request line")
    method, target, version = parts
    if not VERSION.fullmatch(version):
        raise Refused(400, "version syntax")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise Refused(505, "version")
    if method == b"CONNECT":
        raise Refused(501, "connect")
    if target == b"*":
        if method != b"OPTIONS":
            raise Refused(400, "asterisk-form")
    elif not target.startswith(b"/"):
        absolute = ABSOLUTE.fullmatch(target)
        if absolute is None or not HOST.fullmatch(absolute.group(1)):
            raise Refused(400, "target form")
    return method, target, version


def _head(head: bytes, limits: dict[str, int]) -> tuple[tuple[object, ...], str]:
    _bare_eol(head)
    lines = head.split(b"\r\n")
    method, target, version = _request_line(lines[0], limits)
    if len(head) - len(lines[0]) + 2 > limits["max_header_bytes"]:
        raise Refused(431, "header bytes")
    if len(lines) - 1 > limits["max_headers"]:
        raise Refused(431, "header count")
    fields = _fields(lines[1:])
    values = {name: [v for n, v in fields if n == name] for name, _ in fields}
    hosts = values.get(b"host", [])
    if len(hosts) > 1 or (version == b"HTTP/1.1" and not hosts):
        raise Refused(400, "host count")
    if hosts and not HOST.fullmatch(hosts[0]):
        raise Refused(400, "host")
    framing = _framing(values, version, limits["max_body_bytes"])
    expect = values.get(b"expect")
    if expect is not None and (len(expect) != 1 or expect[0].lower() != b"100-continue"):
        raise Refused(417, "expect")
    length = int(framing) if framing.isdigit() else None
    as_text = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in fields)
    event = ("head", method.decode(), target.decode(), version.decode()[5:], as_text)
    return (*event, length, framing == "chunked"), framing


def _fields(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    fields = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not TOKEN.fullmatch(name):
            raise Refused(400, "field line")
        value = value.strip(b" \t")
        if not FIELD_VALUE.fullmatch(value):
            raise Refused(400, "field value")
        fields.append((name.lower(), value))
    return fields


def _framing(values: dict[bytes, list[bytes]], version: bytes, limit: int) -> str:
    """RFC 9112 §6.1-6.3: "chunked", "over" (413), or the length as digits."""
    lengths = values.get(b"content-length")
    codings_lines = values.get(b"transfer-encoding")
    if codings_lines is not None:
        if lengths is not None or version == b"HTTP/1.0":
            raise Refused(400, "te with cl, or in 1.0")
        codings = [c.strip(b" \t").lower() for v in codings_lines for c in v.split(b",")]
        codings = [c for c in codings if c]
        if not codings or codings[-1] != b"chunked" or codings.count(b"chunked") != 1:
            raise Refused(400, "te must end in one chunked")
        if not all(TOKEN.fullmatch(c) for c in codings):
            raise Refused(400, "te token")
        if len(codings) > 1:
            raise Refused(501, "te coding")
        return "chunked"
    if lengths is None:
        return "none"
    if len(lengths) != 1 or not re.fullmatch(rb"[0-9]+", lengths[0]):
        raise Refused(400, "content-length")
    return "over" if int(lengths[0]) > limit else str(int(lengths[0]))


def _chunked(
    raw: bytes, pos: int, limits: dict[str, int]
) -> tuple[bytes | None, tuple[tuple[str, str], ...] | None, int]:
    body = b""
    while True:
        end = raw.find(b"\r\n", pos, pos + MAX_CHUNK_LINE + 2)
        if end < 0:
            if len(raw) - pos > MAX_CHUNK_LINE:
                raise Refused(400, "chunk line too long")
            return None, None, pos
        size_line = CHUNK_LINE.fullmatch(raw, pos, end)
        if size_line is None:
            raise Refused(400, "chunk line")
        size = int(size_line.group(1), 16)
        if len(body) + size > limits["max_body_bytes"]:
            raise Refused(413, "chunked body over the limit")
        pos = end + 2
        if size == 0:
            return _trailers(raw, pos, limits, body)
        if len(raw) - pos < size + 2:
            if raw[pos + size : pos + size + 1] not in (b"", b"\r"):
                raise Refused(400, "chunk data end")
            return None, None, pos
        if raw[pos + size : pos + size + 2] != b"\r\n":
            raise Refused(400, "chunk data end")
        body += raw[pos : pos + size]
        pos += size + 2


def _trailers(
    raw: bytes, pos: int, limits: dict[str, int], body: bytes
) -> tuple[bytes | None, tuple[tuple[str, str], ...] | None, int]:
    if raw.startswith(b"\r\n", pos):
        return body, None, pos + 2
    end = raw.find(b"\r\n\r\n", pos)
    section = raw[pos:] if end < 0 else raw[pos : end + 4]
    _bare_eol(section.removesuffix(b"\r"))
    if len(section) > limits["max_header_bytes"]:
        raise Refused(431, "trailer bytes")
    if section.count(b"\r\n") - (end >= 0) > limits["max_headers"]:
        raise Refused(431, "trailer count")
    if end < 0:
        return None, None, pos
    fields = _fields(raw[pos:end].split(b"\r\n"))
    trailers = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in fields)
    return body, trailers, end + 4


STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-5][0-9][0-9])(?: [\t -~\x80-\xff]*)?")


def read_responses(raw: bytes, method: str, limits: dict[str, int], eof: bool) -> Verdict:
    """Every response in `raw` to requests of `method`, the upstream closing after it when
    `eof`: ("head", status, fields, chunked), ("end", body, trailers), then ("error",),
    ("need data",) or ("switched",) after a 101."""
    out: Verdict = []
    pos = informational = 0
    try:
        while True:
            end = raw.find(b"\r\n\r\n", pos)
            if end < 0:
                part = raw[pos:]
                _bare_eol(part.removesuffix(b"\r"))
                if (
                    len(part) > limits["max_header_bytes"]
                    or part.count(b"\r\n") > limits["max_headers"]
                ):
                    raise Refused(502, "head over the limits")
                if eof:
                    raise Refused(502, "closed in or before a head")
                return [*out, ("need data",)]
            status, fields, framing, keep_alive = _response_head(raw[pos:end], method, limits)
            if 100 <= status < 200 and status != 101:
                informational += 1
                if informational > 32:
                    raise Refused(502, "more than 32 1xx heads")
            out.append(("head", status, fields, framing == "chunked"))
            pos = end + 4
            if status == 101:
                return [*out, ("switched",)]
            if status < 200:
                continue
            informational = 0
            if framing == "chunked":
                body, trailers, pos = _chunked(raw, pos, limits)
                if body is None:
                    if eof:
                        raise Refused(502, "closed in a chunked body")
                    return [*out, ("need data",)]
            elif framing == "close":
                if len(raw) - pos > limits["max_body_bytes"]:
                    raise Refused(502, "body over the limit")
                if not eof:
                    return [*out, ("need data",)]
                body, trailers, pos = raw[pos:], None, len(raw)
            else:
                length = int(framing)
                if len(raw) - pos < length:
                    if eof:
                        raise Refused(502, "closed in a body")
                    return [*out, ("need data",)]
                body, trailers, pos = raw[pos : pos + length], None, pos + length
            out.append(("end", body, trailers))
            if not keep_alive:
                return [*out, ("closes",)]
    except Refused:
        return [*out, ("error",)]


def _response_head(
    head: bytes, method: str, limits: dict[str, int]
) -> tuple[int, tuple[tuple[str, str], ...], str, bool]:
    _bare_eol(head)
    if len(head) + 4 > limits["max_header_bytes"] or head.count(b"\r\n") > limits["max_headers"]:
        raise Refused(502, "head over the limits")
    lines = head.split(b"\r\n")
    status_line = STATUS_LINE.fullmatch(lines[0])
    if status_line is None:
        raise Refused(502, "status line")
    minor, status = status_line.group(1), int(status_line.group(2))
    fields = _fields(lines[1:])
    values = {name: [v for n, v in fields if n == name] for name, _ in fields}
    lengths, codings = values.get(b"content-length"), values.get(b"transfer-encoding")
    framing = "close"
    if codings is not None:
        listed = [c.strip(b" \t").lower() for v in codings for c in v.split(b",")]
        if lengths is not None or minor == b"0" or [c for c in listed if c] != [b"chunked"]:
            raise Refused(502, "transfer-encoding")
        framing = "chunked"
    elif lengths is not None:
        if len(lengths) != 1 or not re.fullmatch(rb"[0-9]{1,18}", lengths[0]):
            raise Refused(502, "content-length")
        framing = str(int(lengths[0]))
    tokens = {t.strip(b" \t") for v in values.get(b"connection", []) for t in v.lower().split(b",")}
    keep_alive = b"close" not in tokens and (minor == b"1" or b"keep-alive" in tokens)
    if status < 200 or status in (204, 304) or method == "HEAD":
        framing = "0"
    elif framing == "close":
        keep_alive = False
    elif framing != "chunked" and int(framing) > limits["max_body_bytes"]:
        raise Refused(502, "body over the limit")
    as_text = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in fields)
    return status, as_text, framing, keep_alive
