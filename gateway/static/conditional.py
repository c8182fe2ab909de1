"""Validators and preconditions for one file snapshot (RFC 9110 §8.8, §13): a strong ETag and
Last-Modified made from an fstat, and the §13.2.2 evaluation order over request headers.
Pure functions, no I/O; a malformed date or tag never matches rather than raising."""

from __future__ import annotations

import enum
import functools
import os
import re
from email.utils import formatdate, mktime_tz, parsedate_tz

from gateway.http.headers import Headers

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; anything between tags (junk, spaces) is skipped.
_ENTITY_TAG = re.compile(r'(W/)?("[^"]*")')


class Precondition(enum.Enum):
    PROCEED = "proceed"
    NOT_MODIFIED = "304"
    FAILED = "412"


def make_etag(st: os.stat_result, coding: str = "") -> str:
    """A strong ETag from inode, size and mtime in nanoseconds, hex, dash-separated so no two
    snapshots can run together; a precompressed variant adds its coding ("-br")."""
    suffix = f"-{coding}" if coding else ""
    return f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}{suffix}"'


@functools.lru_cache(maxsize=4096)
def http_date(seconds: int) -> str:
    """IMF-fixdate for whole seconds; cached since most files share few distinct mtimes."""
    return formatdate(seconds, usegmt=True)


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch for an IMF-fixdate, RFC 850 or asctime date; None otherwise."""
    try:
        parts = parsedate_tz(value)
        return None if parts is None else mktime_tz(parts)
    except (ValueError, OverflowError, IndexError):
        return None


def _tags(value: str) -> list[tuple[bool, str]]:
    return [(weak == "W/", tag) for weak, tag in _ENTITY_TAG.findall(value)]


def strong_match(value: str, etag: str) -> bool:
    """If-Match / If-Range comparison: "*", or a non-weak tag equal to `etag`."""
    if value.strip() == "*":
        return True
    return any(not weak and tag == etag for weak, tag in _tags(value))


def weak_match(value: str, etag: str) -> bool:
    """If-None-Match comparison: "*", or any tag equal to `etag` ignoring W/."""
    if value.strip() == "*":
        return True
    return any(tag == etag for _, tag in _tags(value))


def _joined(headers: Headers, name: str) -> str | None:
    # List-valued fields may arrive over several lines; they mean the same as one joined line.
    values = headers.get_all(name)
    return ", ".join(values) if values else None


def _single_date(headers: Headers, name: str) -> int | None:
    # A date field sent twice is ambiguous: RFC 9110 says ignore it.
    values = headers.get_all(name)
    return parse_http_date(values[0]) if len(values) == 1 else None


_CONDITIONAL = frozenset(("if-match", "if-unmodified-since", "if-none-match", "if-modified-since"))


def evaluate(headers: Headers, method: str, etag: str, mtime: int) -> Precondition:
    """RFC 9110 §13.2.2, in its order: If-Match, else If-Unmodified-Since (412 when they
    fail); If-None-Match, else If-Modified-Since (304 for GET/HEAD when they match).
    `mtime` is the Last-Modified in whole seconds."""
    if not headers.has_any(_CONDITIONAL):
        return Precondition.PROCEED  # the common case, decided with one set test
    if_match = _joined(headers, "if-match")
    if if_match is not None:
        if not strong_match(if_match, etag):
            return Precondition.FAILED
    else:
        since = _single_date(headers, "if-unmodified-since")
        if since is not None and mtime > since:
            return Precondition.FAILED
    safe = method in ("GET", "HEAD")
    if_none_match = _joined(headers, "if-none-match")
    if if_none_match is not None:
        if weak_match(if_none_match, etag):
            return Precondition.NOT_MODIFIED if safe else Precondition.FAILED
    elif safe:
        since = _single_date(headers, "if-modified-since")
        if since is not None and mtime <= since:
            return Precondition.NOT_MODIFIED
    return Precondition.PROCEED


def range_applies(if_range: str | None, etag: str, mtime: int) -> bool:
    """Whether a Range header may be honoured given If-Range (RFC 9110 §13.1.5): no If-Range,
    a strong ETag equal to ours, or a date exactly our Last-Modified. Anything else means
    the client's partial copy is stale: send the whole file."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return value == etag  # a weak tag never equals our strong one
    return parse_http_date(value) == mtime
