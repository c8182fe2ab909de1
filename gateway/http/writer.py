"""Response heads and chunks as bytes. The writer owns framing: Content-Length,
Transfer-Encoding and Connection come from its arguments, never from the caller's headers,
and no header it writes can carry CR, LF or NUL. It never reads the clock: see set_date."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from email.utils import formatdate
from http import HTTPStatus
from typing import NoReturn

from gateway.errors import GatewayError
from gateway.http import grammar

LAST_CHUNK = b"0\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
REASONS: dict[int, str] = {s.value: s.phrase for s in HTTPStatus}

# Status lines are always HTTP/1.1 (RFC 9110 §6.2: a server sends its own version).
_STATUS_LINES: dict[int, str] = {code: f"HTTP/1.1 {code} {p}\r\n" for code, p in REASONS.items()}

# What the writer does with a caller's header, by name: most are written as given.
_PLAIN, _DROP, _DATE, _SERVER = 0, 1, 2, 3
_KINDS = {
    "content-length": _DROP,
    "transfer-encoding": _DROP,
    "connection": _DROP,
    "keep-alive": _DROP,
    "date": _DATE,
    "server": _SERVER,
}
# Names already checked, mapped to their kind; bounded since handlers may invent names.
_KNOWN_NAMES: dict[str, int] = {}
_MAX_KNOWN_NAMES = 1024
# Encoded heads kept until the next set_date (whose Date they carry): a server answers the
# same few heads over and over (a file, a fixed route). Emptied when full, not evicted.
_MAX_CACHED_HEADS = 512


class HeaderError(GatewayError, ValueError):
    """A response header that must not be written: a name that is not a token, or a value
    with CR, LF, NUL or a character outside latin-1 (header injection, or a bug)."""


class Framing(enum.Enum):
    """How the body after a head is delimited on the wire."""

    NONE = "none"  # no body: 1xx, 204, 304, or a response to HEAD
    LENGTH = "length"  # exactly content_length bytes follow
    CHUNKED = "chunked"  # chunk() pieces, then LAST_CHUNK
    CLOSE = "close"  # raw bytes until the connection closes (HTTP/1.0, length unknown)


class ResponseWriter:
    """Writes response heads for one server. No Date header is written until the first
    set_date() call: the server loop calls it at start and then once a second, which keeps
    this module clock-free and spares formatting a date per response."""

    __slots__ = ("_date", "_heads", "_server", "_tail")

    def __init__(self, server: str = "gateway") -> None:
        _check_value("server", server)
        self._server = f"server: {server}\r\n" if server else ""
        self._date = ""
        self._tail = self._server
        self._heads: dict[tuple[object, ...], tuple[bytes, Framing]] = {}

    def set_date(self, now: float) -> None:
        """Use the IMF-fixdate of `now` (seconds since the epoch) from now on."""
        date = f"date: {formatdate(now, usegmt=True)}\r\n"
        if date != self._date:
            self._heads = {}  # every cached head carries the old Date
            self._date = date
            self._tail = self._date + self._server

    @property
    def date(self) -> str:
        """The Date line heads get now: the same object until the second changes."""
        return self._date

    def head(
        self,
        status: int,
        headers: Iterable[tuple[str, str]],
        *,
        content_length: int | None,
        keep_alive: bool,
        http_version: str = "1.1",
        head_request: bool = False,
    ) -> tuple[bytes, Framing]:
        """The status line and header section, and how the body that follows is framed.
        `content_length` None means a streamed body: chunked for HTTP/1.1, ended by closing
        for HTTP/1.0. The connection may stay open after the body only if `keep_alive` and
        the framing is not Framing.CLOSE (the writer turns keep-alive off for it).
        The same arguments within one Date second give the same bytes, from a cache."""
        headers = tuple(headers)
        key = (status, headers, content_length, keep_alive, http_version, head_request)
        heads = self._heads
        try:
            return heads[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value: checked and written the long way
            return self._encode(
                status, headers, content_length, keep_alive, http_version, head_request
            )
        encoded = self._encode(
            status, headers, content_length, keep_alive, http_version, head_request
        )  # raises HeaderError before anything is kept
        if len(heads) >= _MAX_CACHED_HEADS:
            heads.clear()
        heads[key] = encoded
        return encoded

    def _encode(
        self,
        status: int,
        headers: tuple[tuple[str, str], ...],
        content_length: int | None,
        keep_alive: bool,
        http_version: str,
        head_request: bool,
    ) -> tuple[bytes, Framing]:
        line = _STATUS_LINES.get(status) or _status_line(status)
        parts, given = _caller_headers(line, headers)
        text = "".join(parts)
        # Every part ends in its own CRLF: one CR, LF or NUL more means a value carried one.
        if text.count("\r") != len(parts) or text.count("\n") != len(parts) or "\0" in text:
            _find_bad_value(parts)
        tail = self._tail if not given else self._own_tail(given)
        framing = _framing(status, content_length, http_version)
        if framing is Framing.LENGTH:
            tail += f"content-length: {content_length}\r\n"
        elif framing is Framing.CHUNKED:
            tail += "transfer-encoding: chunked\r\n"
        if head_request:
            # HEAD gets the headers GET would get, and no body; with nothing to read to the
            # end of, a HEAD response never needs to close the connection.
            framing = Framing.NONE
        if status >= 200:  # an interim response says nothing about the connection
            if not keep_alive or framing is Framing.CLOSE:
                tail += "connection: close\r\n"
            elif http_version == "1.0":
                tail += "connection: keep-alive\r\n"
        try:
            return (text + tail + "\r\n").encode("latin-1"), framing
        except UnicodeEncodeError:
            _find_bad_value(parts)

    def _own_tail(self, given: int) -> str:
        """Date and Server, less those the caller gave (bit 1: Date, bit 2: Server)."""
        return ("" if given & 1 else self._date) + ("" if given & 2 else self._server)


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body. Empty data gives b"": an empty chunk would end the body."""
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)


def _status_line(status: int) -> str:
    if not 100 <= status <= 999:
        raise ValueError(f"status must be a three-digit number, not {status!r}")
    line = _STATUS_LINES[status] = f"HTTP/1.1 {status} \r\n"  # reason-phrase may be empty
    return line


def _caller_headers(line: str, headers: Iterable[tuple[str, str]]) -> tuple[list[str], int]:
    """(head parts so far, bit 1 if the caller gave Date, bit 2 if it gave Server)."""
    parts = [line]
    given = 0
    known = _KNOWN_NAMES
    for name, value in headers:
        kind = known.get(name)
        if kind is None:
            kind = _learn_name(name)
        if kind:
            if kind == _DROP:
                continue
            given |= 1 if kind == _DATE else 2
        parts.append(f"{name}: {value}\r\n")
    return parts, given


def _framing(status: int, content_length: int | None, version: str) -> Framing:
    """How a response to GET would be framed."""
    if status < 200 or status == 204 or status == 304:
        return Framing.NONE
    if content_length is not None:
        if content_length < 0:
            raise ValueError(f"content_length must not be negative: {content_length!r}")
        return Framing.LENGTH
    return Framing.CHUNKED if version == "1.1" else Framing.CLOSE


def _learn_name(name: str) -> int:
    if not grammar.TOKEN.fullmatch(name):
        raise HeaderError(f"header name is not a token: {name!r}")
    kind = _KINDS.get(name.lower(), _PLAIN)
    if len(_KNOWN_NAMES) < _MAX_KNOWN_NAMES:
        _KNOWN_NAMES[name] = kind
    return kind


def _find_bad_value(parts: list[str]) -> NoReturn:
    for part in parts[1:]:
        name, _, value = part[:-2].partition(": ")
        _check_value(name, value)
    raise HeaderError(f"response head would be malformed: {''.join(parts)!r}")


def _check_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value or "\0" in value:
        raise HeaderError(f"header {name!r} has CR, LF or NUL in its value: {value!r}")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise HeaderError(f"header {name!r} has a value outside latin-1: {value!r}") from None
