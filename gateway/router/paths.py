"""Request paths to segments and back. split_path decodes each segment once, after splitting,
so a '%2F' stays inside its segment; its output has no '.' or '..' segments and no empty
segment except a final one (the trailing slash). join_path is its inverse for redirects."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from gateway.errors import HTTPError

_HEX_DIGITS = "0123456789abcdefABCDEF"
# Every two-character escape body, in any case, to its byte: one dict lookup per escape, and
# anything not in it ('zz', '4', '') is malformed rather than passed through as unquote() does.
_ESCAPES = {a + b: bytes((int(a + b, 16),)) for a in _HEX_DIGITS for b in _HEX_DIGITS}

# pchar minus '/': what may stay unencoded inside one segment (RFC 3986 §3.3).
_SEGMENT_SAFE = "!$&'()*+,;=:@"


def decode_segment(segment: str, encoding: str = "utf-8") -> str:
    """Percent-decode one segment to text, strictly: ValueError (with a message fit for a
    client or a config file) for a malformed escape, bytes that are not UTF-8, or a NUL.
    `encoding` turns the literal characters back into bytes: "latin-1" for a request line
    (one character per byte, as the parser hands it over), "utf-8" for text written by people."""
    text = segment if "%" not in segment and segment.isascii() else _unescape(segment, encoding)
    if "\x00" in text:
        raise ValueError(f"path segment {segment!r} holds a nul byte, which no path may contain")
    return text


def _unescape(segment: str, encoding: str) -> str:
    head, *escaped = segment.split("%")
    try:
        chunks = [head.encode(encoding)]
        for piece in escaped:
            byte = _ESCAPES.get(piece[:2])
            if byte is None:
                bad = "%" + piece[:2]
                raise ValueError(f"malformed percent escape {bad!r}: use '%' and two hex digits")
            chunks.append(byte)
            chunks.append(piece[2:].encode(encoding))
        return b"".join(chunks).decode("utf-8")
    except UnicodeError:
        raise ValueError(f"path segment {segment!r} is not utf-8 once percent-decoded") from None


def split_path(raw_path: str) -> tuple[str, ...]:
    """Split a raw (still percent-encoded) request path into decoded segments.

    "/" -> ("",), "/a/" -> ("a", ""), "/a/./b/../c" -> ("a", "c"), "/a%2Fb" -> ("a/b",).
    Raises HTTPError(400) for a path that does not start with '/', a malformed escape,
    bytes that are not UTF-8, or a NUL."""
    if raw_path[:1] != "/":
        raise HTTPError(400, f"path {raw_path!r} must start with '/'")
    # The common path needs no decoding, no dot-segment and no slash merging: one split.
    # ("/." also sends "/.well-known" the slow way; that is rare and still correct.)
    if (
        raw_path.isascii()
        and "%" not in raw_path
        and "/." not in raw_path
        and "//" not in raw_path
        and "\x00" not in raw_path
    ):
        return tuple(raw_path[1:].split("/"))
    return _split_slow(raw_path)


def _split_slow(raw_path: str) -> tuple[str, ...]:
    # Split first, then decode each piece: a decoded '/' can never become a separator.
    try:
        decoded = [decode_segment(s, "latin-1") for s in raw_path[1:].split("/")]
    except ValueError as exc:
        raise HTTPError(400, str(exc)) from None
    return _remove_dot_segments(decoded)


def _remove_dot_segments(segments: list[str]) -> tuple[str, ...]:
    """RFC 3986 §5.2.4 over decoded segments, never above the root, with '//' merged.
    A path ending in a dot-segment ends in a slash ("/a/b/.." is "/a/"), as the RFC says."""
    out: list[str] = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        if segment == "." or segment == "..":
            if segment == ".." and out:
                out.pop()
            if i == last:
                out.append("")
        elif segment or i == last:
            out.append(segment)
    return tuple(out) if out else ("",)


def join_path(segments: Iterable[str]) -> str:
    """The path for `segments`, each percent-encoded so that a '/' inside one becomes %2F.
    Empty segments other than the last are dropped, as split_path merges them; that also
    keeps the result from ever starting with '//', which a browser would read as a host."""
    items = list(segments)
    kept = [s for s in items[:-1] if s] + items[-1:]
    return "/" + "/".join(quote(s, safe=_SEGMENT_SAFE) for s in kept)
