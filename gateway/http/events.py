"""What the sans-IO parsers yield: a RequestHead (or, from the response parser, a
ResponseHead), body Data, EndOfMessage, or one of the NEED_DATA / PAUSED sentinels.
Events are immutable and carry no sockets."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from gateway.http.headers import Headers


class Sentinel(enum.Enum):
    NEED_DATA = "need data"  # feed more bytes before the next event
    PAUSED = "paused"  # a request ended; call start_next() once its response is queued


NEED_DATA = Sentinel.NEED_DATA
PAUSED = Sentinel.PAUSED


class RequestHead(NamedTuple):
    """The request line and header section, validated. `path` and `query` are the raw
    (still percent-encoded) parts of the target; `keep_alive` is what the client asked for.
    A NamedTuple rather than a frozen dataclass: as immutable, and built in a quarter of
    the time (a frozen dataclass sets each of its 11 fields through object.__setattr__),
    which matters once per request."""

    method: str
    target: str
    path: str
    query: str
    http_version: str  # "1.1" or "1.0"
    headers: Headers
    host: str | None  # the Host header, or the authority of an absolute-form target
    content_length: int | None  # None when chunked or no Content-Length header
    chunked: bool
    keep_alive: bool
    expect_continue: bool


class ResponseHead(NamedTuple):
    """A status line and header section, validated. 1xx heads come as ResponseHeads too
    (status < 200), before the final one. Exactly one of `content_length` (not None),
    `chunked` and `close_delimited` frames the body, unless the response has none (HEAD,
    1xx, 204, 304: all three empty). `keep_alive`: the connection may carry another one."""

    status: int
    reason: str
    http_version: str  # "1.1" or "1.0"
    headers: Headers
    content_length: int | None
    chunked: bool
    close_delimited: bool
    keep_alive: bool


@dataclass(frozen=True, slots=True)
class Data:
    """A piece of a message body, de-chunked."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfMessage:
    """The message body is complete; `trailers` are a chunked body's trailer fields."""

    trailers: Headers | None = None


Event = RequestHead | Data | EndOfMessage | Sentinel
