"""A complete response head (status line + field lines, as latin-1 text) into a ResponseHead.
Owns the status line and the RFC 9112 §6.3 rules that decide how the body is framed, refusing
what could smuggle a response (CL with TE, repeated or signed CL, codings other than chunked)."""

from __future__ import annotations

from gateway.errors import ProtocolError
from gateway.http import grammar
from gateway.http.events import ResponseHead
from gateway.http.fields import Fields, parse_fields, values_of
from gateway.http.headers import Headers

_VERSIONS = {"HTTP/1.1": "1.1", "HTTP/1.0": "1.0"}


def bad(detail: str) -> ProtocolError:
    """What every malformed upstream response gets: a 502 for the client."""
    return ProtocolError(502, detail)


def parse_response_head(lines: list[str], method: str) -> ResponseHead:
    """`lines` are the status line and field lines of a head that passed fields.check_bytes,
    without their CRLFs; `method` is the request's. The list is consumed."""
    status, reason, version = parse_status_line(lines[0])
    del lines[0]
    items, index = parse_fields(lines)
    repeated = items if len(index) != len(items) else None
    headers = Headers.from_lowered(items, index)
    length, chunked = _framing(index, repeated, version)
    keep_alive = _keep_alive(index, repeated, version)
    if status < 200 or status in (204, 304) or method == "HEAD":
        # RFC 9112 §6.3 rules 1 and 2: no body, whatever the framing fields say (for HEAD
        # and 304 a Content-Length tells the size of the representation, not of a body).
        if status == 101:
            keep_alive = False  # the connection now belongs to the new protocol
        return ResponseHead(status, reason, version, headers, None, False, False, keep_alive)
    if method == "CONNECT" and status < 300:
        return ResponseHead(status, reason, version, headers, None, False, False, False)
    if chunked:
        return ResponseHead(status, reason, version, headers, None, True, False, keep_alive)
    if length is not None:
        return ResponseHead(status, reason, version, headers, length, False, False, keep_alive)
    # RFC 9112 §6.3 rule 8: no framing at all, the body runs until the server closes.
    return ResponseHead(status, reason, version, headers, None, False, True, False)


def parse_status_line(line: str) -> tuple[int, str, str]:
    """(status, reason, "1.1" or "1.0"); 502 for anything else."""
    match = grammar.STATUS_LINE.fullmatch(line)
    if match is None:
        raise bad(f"malformed status line: {line[:100]!r}")
    version, status, reason = match.groups()
    known = _VERSIONS.get(version)
    if known is None:
        raise bad(f"unsupported http version in status line: {version!r}")
    return int(status), reason or "", known


def _framing(
    index: dict[str, str], repeated: Fields | None, version: str
) -> tuple[int | None, bool]:
    """(content_length, chunked), checked even where the status means no body: an upstream
    that frames ambiguously is not trusted with the connection any more."""
    length = index.get("content-length")
    coding = index.get("transfer-encoding")
    if coding is not None:
        if length is not None:
            raise bad("both transfer-encoding and content-length in a response")
        if version == "1.0":
            raise bad("transfer-encoding in an http/1.0 response")
        values = values_of(repeated, "transfer-encoding") if repeated else [coding]
        codings = [c.strip(" \t").lower() for v in values for c in v.split(",")]
        if [c for c in codings if c] != ["chunked"]:
            given = ", ".join(values)
            raise bad(f"transfer-encoding must be exactly chunked: {given!r}")
        return None, True
    if length is None:
        return None, False
    if repeated and len(lengths := values_of(repeated, "content-length")) > 1:
        raise bad(f"more than one content-length in a response: {lengths!r}")
    if not (length.isascii() and length.isdigit()) or len(length) > 18:
        raise bad(f"invalid content-length in a response: {length[:40]!r}")
    return int(length), False


def _keep_alive(index: dict[str, str], repeated: Fields | None, version: str) -> bool:
    value = index.get("connection")
    if value is None:
        return version == "1.1"
    if repeated:
        value = ",".join(values_of(repeated, "connection"))
    tokens = {t.strip(" \t") for t in value.lower().split(",")}
    if "close" in tokens:
        return False
    return version == "1.1" or "keep-alive" in tokens
