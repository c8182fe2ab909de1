"""A complete request head (request line + field lines, as latin-1 text) into a RequestHead.
Owns the request-target forms, the version rule, Host, and the message-framing rules of
RFC 9112 §6 that shut out request smuggling (CL/TE conflicts, unknown codings)."""

from __future__ import annotations

from gateway.errors import ProtocolError
from gateway.http import grammar
from gateway.http.events import RequestHead
from gateway.http.fields import Fields, parse_fields, values_of
from gateway.http.headers import Headers

# Host values that passed grammar.HOST; like field names, the same few arrive on every request.
_KNOWN_HOSTS: set[str] = set()
_MAX_KNOWN_HOSTS = 256
_VERSIONS = {"HTTP/1.1": "1.1", "HTTP/1.0": "1.0"}
_COMMON_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"))


class BodyOverLimit(Exception):
    """Raised by parse_head for a sound head whose declared body is over the limit: carries
    that head (content_length None, keep_alive and expect_continue False) for the parser to
    emit before the 413. Never leaves gateway.http."""

    def __init__(self, head: RequestHead, detail: str) -> None:
        super().__init__(detail)
        self.head = head
        self.detail = detail


def parse_head(lines: list[str], max_body_bytes: int) -> RequestHead:
    """`lines` are the request line and the field lines of a head that passed
    fields.check_bytes, without their CRLFs. The list is consumed."""
    method, target, version = parse_request_line(lines[0])
    path, query, authority = split_target(method, target)
    del lines[0]
    items, index = parse_fields(lines)
    # A name that appears twice makes the index shorter than the list; only then are the
    # must-appear-once fields counted.
    repeated = items if len(index) != len(items) else None
    host = _host(index, repeated, version)
    if authority is not None:
        host = authority  # RFC 9112 §3.2.2: the target's authority wins over Host
    headers = Headers.from_lowered(items, index)
    content_length: int | None = None
    chunked = False
    if "content-length" in index or "transfer-encoding" in index:
        try:
            content_length, chunked = _body_framing(index, repeated, version, max_body_bytes)
        except ProtocolError as exc:
            if exc.status == 413:
                # The head itself is sound: the parser emits it (without a body), then
                # raises the 413, so the server can still route the answer and a CORS
                # route's 413 carries its CORS headers.
                fields = (method, target, path, query, version, headers, host)
                body_less = RequestHead(*fields, None, False, False, False)
                raise BodyOverLimit(body_less, exc.detail) from None
            raise
    return RequestHead(
        method,
        target,
        path,
        query,
        version,
        headers,
        host,
        content_length,
        chunked,
        _keep_alive(index, repeated, version),
        "expect" in index
        and _expect_continue(index, items, version, chunked or bool(content_length)),
    )


def parse_request_line(line: str) -> tuple[str, str, str]:
    """(method, target, "1.1" or "1.0"); 400, 501 or 505 for anything else."""
    # The common case by str methods alone, which beats the regex below by half; the
    # regex then only has to sort out what is wrong, and methods seldom seen.
    parts = line.split(" ")
    if len(parts) == 3:
        method, target, version = parts
        known = _VERSIONS.get(version)
        if (
            known is not None
            and method in _COMMON_METHODS
            and target
            and target.isascii()
            and target.isprintable()
            and "#" not in target
        ):
            return method, target, known
    match = grammar.REQUEST_LINE.fullmatch(line)
    if match is None:
        raise ProtocolError(400, f"malformed request line: {line[:100]!r}")
    method, target, version = match.groups()
    known = _VERSIONS.get(version)
    if known is None:
        if grammar.HTTP_VERSION.fullmatch(version):
            raise ProtocolError(505, f"http version not supported: {version!r}")
        raise ProtocolError(400, f"malformed http version: {version!r}")
    if method == "CONNECT":
        # gateway is an origin server, not a proxy: it has no tunnels to open.
        raise ProtocolError(501, f"method not implemented: {method!r}")
    return method, target, known


def split_target(method: str, target: str) -> tuple[str, str, str | None]:
    """(path, query, authority): origin-form, asterisk-form or absolute-form."""
    if target[0] == "/":
        path, _, query = target.partition("?")
        return path, query, None
    if target == "*":
        if method != "OPTIONS":
            raise ProtocolError(400, f"asterisk-form target with method {method!r}")
        return "*", "", None
    match = grammar.ABSOLUTE_FORM.fullmatch(target)
    if match is None:
        raise ProtocolError(400, f"malformed request target: {target[:100]!r}")
    scheme, authority, path, query = match.groups()
    if scheme.lower() not in ("http", "https"):
        raise ProtocolError(400, f"unsupported scheme in request target: {scheme!r}")
    if not authority or not grammar.HOST.fullmatch(authority):
        raise ProtocolError(400, f"invalid authority in request target: {authority!r}")
    return path or "/", query or "", authority


def _host(index: dict[str, str], repeated: Fields | None, version: str) -> str | None:
    host = index.get("host")
    if host is None:
        if version == "1.1":
            raise ProtocolError(400, "missing host header")
        return None
    if repeated and len(hosts := values_of(repeated, "host")) > 1:
        raise ProtocolError(400, f"more than one host header: {hosts!r}")
    if host not in _KNOWN_HOSTS:
        if not grammar.HOST.fullmatch(host):
            raise ProtocolError(400, f"invalid host header: {host!r}")
        if len(_KNOWN_HOSTS) < _MAX_KNOWN_HOSTS:
            _KNOWN_HOSTS.add(host)
    return host


def _body_framing(
    index: dict[str, str], repeated: Fields | None, version: str, max_body_bytes: int
) -> tuple[int | None, bool]:
    """(content_length, chunked) per RFC 9112 §6.1-6.3, refusing anything ambiguous."""
    length = index.get("content-length")
    coding = index.get("transfer-encoding")
    if coding is not None:
        if length is not None:
            raise ProtocolError(400, "both transfer-encoding and content-length")
        if version == "1.0":
            raise ProtocolError(400, "transfer-encoding in an http/1.0 request")
        codings = values_of(repeated, "transfer-encoding") if repeated else [coding]
        _check_codings(codings)
        return None, True
    if length is None:
        return None, False
    if repeated and len(lengths := values_of(repeated, "content-length")) > 1:
        raise ProtocolError(400, f"more than one content-length: {lengths!r}")
    if not (length.isascii() and length.isdigit()):
        raise ProtocolError(400, f"invalid content-length: {length!r}")
    # Nineteen digits already exceed any sane limit; int() of more is wasted work.
    if len(length) > 18 or int(length) > max_body_bytes:
        raise ProtocolError(413, f"body of {length} bytes is over the limit of {max_body_bytes}")
    return int(length), False


def _check_codings(values: list[str]) -> None:
    codings = [c.strip(" \t").lower() for v in values for c in v.split(",")]
    codings = [c for c in codings if c]  # RFC 9110 §5.6.1: empty list elements are ignored
    if not codings or codings[-1] != "chunked" or codings.count("chunked") > 1:
        given = ", ".join(values)
        raise ProtocolError(400, f"transfer-encoding must end in one chunked: {given!r}")
    for coding in codings:
        if not grammar.TOKEN.fullmatch(coding):
            raise ProtocolError(400, f"invalid transfer coding: {coding!r}")
    if len(codings) > 1:
        # chunked is the only coding gateway can undo; RFC 9112 §6.1 says 501 for the rest
        raise ProtocolError(501, f"transfer coding not implemented: {codings[0]!r}")


def _keep_alive(index: dict[str, str], repeated: Fields | None, version: str) -> bool:
    value = index.get("connection")
    if value is None:
        return version == "1.1"
    if repeated:
        value = ",".join(values_of(repeated, "connection"))
    lowered = value.lower()
    if lowered == "keep-alive":  # what nearly every client sends
        return True
    tokens = {t.strip(" \t") for t in lowered.split(",")}
    if "close" in tokens:
        return False
    return version == "1.1" or "keep-alive" in tokens


def _expect_continue(index: dict[str, str], items: Fields, version: str, has_body: bool) -> bool:
    value = index.get("expect")
    if value is None:
        return False
    values = values_of(items, "expect")
    if len(values) != 1 or value.lower() != "100-continue":
        raise ProtocolError(417, f"unsupported expectation: {', '.join(values)!r}")
    # RFC 9110 §10.1.1: an HTTP/1.0 100-continue is ignored; without a body it means nothing.
    return version == "1.1" and has_body
