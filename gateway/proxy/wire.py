"""Bytes of the request sent upstream: the request line with its (prefix-stripped) target,
the header section, and the body framing: a Content-Length body passes as it is, a chunked
one is chunked again (its chunk boundaries are not kept), trailers included."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.http.grammar import ABSOLUTE_FORM
from gateway.http.headers import Headers
from gateway.http.writer import chunk

_LAST_CHUNK = b"0\r\n\r\n"


def strip_target(target: str, prefix: str) -> str:
    """The request target with `prefix` taken off its path ('/api/x?q' -> '/x?q');
    what is left always starts with '/'."""
    if not prefix:
        return target
    path, mark, query = target.partition("?")
    if path == prefix or path.startswith(prefix + "/"):
        path = path[len(prefix) :] or "/"
    return f"{path}{mark}{query}"


def origin_form(target: str, headers: Headers) -> tuple[str, Headers]:
    """An absolute-form target ("http://host/p?q") as origin-form ("/p?q"), its authority as
    Host: RFC 9112 §3.2.2 has an upstream take the target's authority over any Host (so a
    route's `host` rule, and strip_prefix, would be bypassed) and has a proxy make Host from
    the target. Other targets (origin-form, "*") are returned as they are."""
    if target[:1] == "/" or target == "*":
        return target, headers
    match = ABSOLUTE_FORM.fullmatch(target)
    if match is None:  # pragma: no cover - the parser let only the forms above through
        return target, headers
    _scheme, authority, path, query = match.groups()
    fields = [("host", authority), *((n, v) for n, v in headers.items() if n != "host")]
    return (path or "/") + ("" if query is None else "?" + query), Headers(fields)


def request_head(method: str, target: str, fields: Iterable[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 request head. Field values came through our parser or config, so they
    hold no CR or LF."""
    lines = [f"{name}: {value}\r\n" for name, value in fields]
    return f"{method} {target} HTTP/1.1\r\n{''.join(lines)}\r\n".encode("latin-1")


def body_fields(content_length: int | None, chunked: bool) -> list[tuple[str, str]]:
    """The framing fields for a request body that arrived with this framing."""
    if chunked:
        return [("transfer-encoding", "chunked")]
    if content_length is not None:  # 0 too: some servers want a length on every POST
        return [("content-length", str(content_length))]
    return []


class BodyEncoder:
    """Frames request body pieces for the upstream the way the client framed them."""

    __slots__ = ("chunked",)

    def __init__(self, chunked: bool) -> None:
        self.chunked = chunked

    def data(self, data: bytes) -> bytes:
        return chunk(data) if self.chunked and data else data

    def end(self, trailers: Iterable[tuple[str, str]] | None = None) -> bytes:
        if not self.chunked:
            return b""
        if not trailers:
            return _LAST_CHUNK
        lines = "".join(f"{name}: {value}\r\n" for name, value in trailers)
        return b"0\r\n" + lines.encode("latin-1") + b"\r\n"
