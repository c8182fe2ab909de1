"""ResponseParser: the client side of gateway.http, for connections to upstream servers.
Bytes go in with feed() / feed_eof(), ResponseHead / Data / EndOfMessage come out of
next_event(). Owns the receive buffer, the limits and which part of a response comes next;
anything malformed is ProtocolError(502) and the connection must be closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from gateway.errors import ProtocolError
from gateway.http.body import BodyStates, ChunkedReader, copy_bytes
from gateway.http.events import (
    NEED_DATA,
    Data,
    EndOfMessage,
    ResponseHead,
    Sentinel,
)
from gateway.http.fields import check_bytes
from gateway.http.response_head import bad, parse_response_head
from gateway.http.scan import PartialSection

ResponseEvent = ResponseHead | Data | EndOfMessage | Sentinel

__all__ = ["ResponseEvent", "ResponseHead", "ResponseParser"]

_NO_LIMIT = 1 << 62
# 1xx heads before the final one; more is an upstream looping, not informing.
_MAX_INFORMATIONAL = 32
# Heads parsed before, by (their bytes, the request's method), per pair of limits: an
# upstream answers the same resource with the same head (its Date changes once a second),
# so most heads skip decoding and parsing. Bounded: cleared when full.
_HEAD_CACHES: dict[tuple[int, int], dict[tuple[bytes, str], ResponseHead]] = {}
_CACHED_HEADS = 512
_CACHED_HEAD_BYTES = 4096


class ResponseParser(BodyStates):
    """Parses the responses of one upstream connection, one after another:
    `p.expect("GET"); p.feed(data); while (ev := p.next_event()) is not NEED_DATA: ...`.

    A 1xx head (100, 103, ...) is emitted as a ResponseHead and followed directly by the
    next head; the final head is followed by Data and EndOfMessage, then PAUSED until
    start_next(). After a 101 (or a 2xx to CONNECT) the parser stays PAUSED and
    trailing_data() gives the bytes that belong to the new protocol.

    Limits: `max_header_bytes` of head (status line included) and `max_headers` field lines
    (the same two bound a trailer section); `max_body_bytes` of body, None for no limit.
    Everything malformed or over a limit raises ProtocolError(502, detail), and every
    next_event() after that raises it again."""

    def __init__(
        self,
        *,
        max_header_bytes: int = 16384,
        max_headers: int = 100,
        max_body_bytes: int | None = None,
    ) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_body_bytes = max_body_bytes
        self._buf = bytearray()
        self._pos = 0
        self._eof = False
        self._method = "GET"
        self._read: Callable[[], ResponseEvent] = self._read_head
        self._section = PartialSection(
            max_header_bytes, max_headers + 1, "response head (status line included)"
        )
        self._left = 0  # Content-Length bytes still to come
        self._body_total = 0  # bytes of a close-delimited body so far
        self._informational = 0
        self._chunked: ChunkedReader | None = None
        self._head: ResponseHead | None = None
        self._error: ProtocolError | None = None
        self._heads = _HEAD_CACHES.setdefault((max_header_bytes, max_headers), {})

    def expect(self, method: str) -> None:
        """The method of the request the next response answers (HEAD: no body)."""
        self._method = method

    def feed(self, data: bytes) -> None:
        """Append bytes received from the upstream. Never parses: next_event() does."""
        self._buf += data

    def feed_eof(self) -> None:
        """The upstream closed its side: ends a close-delimited body; anything else still
        incomplete becomes a 502 at the next next_event()."""
        self._eof = True

    def next_event(self) -> ResponseEvent:
        return self._read()

    def start_next(self) -> None:
        """Read the next response on this connection, after the last one's EndOfMessage."""
        head = self._head
        if self._read != self._paused or head is None or head.status < 200:
            raise RuntimeError("start_next() called before a response's EndOfMessage")
        if not head.keep_alive:
            raise RuntimeError("start_next() on a connection the last response closes")
        del self._buf[: self._pos]
        self._pos = 0
        self._head = None
        self._method = "GET"
        self._informational = 0
        self._section.reset()
        self._read = self._read_head

    def read_whole(self, data: bytes) -> tuple[ResponseHead, bytes] | None:
        """The common case in one step: `data`, the first bytes of a response (nothing
        buffered before them), is exactly one whole final response framed by its
        Content-Length or without a body. Its head is parsed by the same code (and cache)
        as next_event()'s; the parser is left as after its EndOfMessage, and the head and
        body are returned. Anything else (a partial or longer response, a 1xx, chunked or
        close-delimited framing, a malformed head) is None with nothing consumed: feed()
        the bytes and read the events, which report it the usual way."""
        if (
            self._head is not None
            or self._buf
            or self._informational
            or self._eof
            or self._error is not None
            or self._method == "CONNECT"
        ):
            return None
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return None
        raw = data[:end]
        head = self._heads.get((raw, self._method))  # _parse_head's cache, inline
        if head is None:
            head = self._parse_complete(raw)
        length = 0 if head is None else head.content_length or 0  # None: HEAD, 204, 304
        if (
            head is None
            or head.status < 200
            or head.chunked
            or head.close_delimited
            or len(data) != end + 4 + length
            or (self.max_body_bytes is not None and length > self.max_body_bytes)
        ):
            return None
        self._head = head
        self._read = self._paused
        return head, data[end + 4 :]

    def _parse_complete(self, raw: bytes) -> ResponseHead | None:
        """read_whole's head not seen before, all there: _parse_head without the checks made
        for a head still arriving (its limits are checked at once, and check_bytes finds any
        bare CR or LF); None for anything wrong, which the events then find and report."""
        crlfs = raw.count(b"\r\n")  # the status line's and one per field line but the last
        if len(raw) + 4 > self.max_header_bytes or crlfs > self.max_headers:
            return None
        try:
            check_bytes(raw, crlfs)
            head = parse_response_head(raw.decode("latin-1").split("\r\n"), self._method)
        except ProtocolError:
            return None
        self._keep(raw, head)
        return head

    def _keep(self, raw: bytes, head: ResponseHead) -> None:
        if len(raw) <= _CACHED_HEAD_BYTES:
            heads = self._heads
            if len(heads) >= _CACHED_HEADS:
                heads.clear()
            heads[(raw, self._method)] = head

    def body_left(self) -> int:
        """Bytes of a Content-Length body still to come when every byte received so far
        was parsed (0 otherwise): what may go around the parser (zero-copy, body_skipped)."""
        if self._read == self._read_length and self._pos == len(self._buf):
            return self._left
        return 0

    def body_skipped(self, count: int) -> None:
        """`count` bytes of the body went from the socket to the client without passing
        through feed() (a splice); the body ends here when they were all that was left."""
        if count > self.body_left():
            raise RuntimeError(f"body_skipped({count}) past the {self._left} bytes left")
        self._left -= count
        if not self._left:
            self._read = self._read_end

    def trailing_data(self) -> bytes:
        """The bytes received and not parsed: after a 101, the new protocol's first bytes."""
        return bytes(self._buf[self._pos :])

    @property
    def started(self) -> bool:
        """Whether any byte of the current response has arrived. A pooled connection that
        closes before that may be retried on a fresh one."""
        return (
            self._read != self._read_head or self._pos < len(self._buf) or self._informational > 0
        )

    # -- states ----------------------------------------------------------------------------

    def _read_head(self) -> ResponseEvent:
        buf, pos, section = self._buf, self._pos, self._section
        end = buf.find(b"\r\n\r\n", section.search_from(pos))
        try:
            if end < 0:
                return self._head_incomplete(buf, pos)
            head = self._parse_head(buf, pos, end)
        except ProtocolError as error:
            return self._fail(error)
        self._pos = end + 4
        section.reset()
        if head.status < 200:
            return self._informational_head(head)
        self._head = head
        if head.chunked:
            limit = _NO_LIMIT if self.max_body_bytes is None else self.max_body_bytes
            self._chunked = ChunkedReader(limit, self.max_header_bytes, self.max_headers)
            self._read = self._read_chunked
        elif head.content_length:
            if self.max_body_bytes is not None and head.content_length > self.max_body_bytes:
                size, limit = head.content_length, self.max_body_bytes
                return self._fail(
                    bad(f"response body of {size} bytes is over the limit of {limit}")
                )
            self._left = head.content_length
            self._read = self._read_length
        elif head.close_delimited:
            self._read = self._read_until_close
        elif self._method == "CONNECT" and head.status < 300:
            self._read = self._paused  # a tunnel: no EndOfMessage, the bytes are not HTTP
            return head
        else:
            self._read = self._read_end
        return head

    def _informational_head(self, head: ResponseHead) -> ResponseEvent:
        if head.status == 101:
            self._head = head
            self._read = self._paused
            return head
        self._informational += 1
        if self._informational > _MAX_INFORMATIONAL:
            return self._fail(bad(f"more than {_MAX_INFORMATIONAL} informational responses"))
        return head  # the final head follows; next_event() reads it

    def _head_incomplete(self, buf: bytearray, pos: int) -> ResponseEvent:
        n = len(buf)
        if n > pos:  # the status line counts against the head's limits
            self._section.raise_first(buf, pos, n, pos)
        if self._eof:
            if pos == n:
                raise bad("upstream closed the connection before sending a response")
            got = bytes(buf[pos : pos + 40])
            raise bad(f"upstream closed the connection in the response head: {got!r}")
        return NEED_DATA

    def _parse_head(self, buf: bytearray, pos: int, end: int) -> ResponseHead:
        raw = bytes(buf[pos:end])
        key = (raw, self._method)
        heads = self._heads
        head = heads.get(key)
        if head is not None:  # these bytes passed every check below before
            return head
        self._section.check_complete(buf, pos, end)
        lines = raw.decode("latin-1").split("\r\n")
        check_bytes(raw, len(lines) - 1)
        head = parse_response_head(lines, self._method)
        self._keep(raw, head)
        return head

    def _read_until_close(self) -> ResponseEvent:
        buf, pos = self._buf, self._pos
        if pos == len(buf):
            if self._eof:
                return self._read_end()
            return NEED_DATA
        data = copy_bytes(buf, pos, len(buf))
        self._body_total += len(data)
        if self.max_body_bytes is not None and self._body_total > self.max_body_bytes:
            return self._fail(
                bad(f"response body is over the limit of {self.max_body_bytes} bytes")
            )
        self._consume(len(buf))
        return Data(data)

    def _cut_short(self, where: str) -> NoReturn:
        self._fail(bad(f"upstream closed the connection {where}"))

    def _fail(self, error: ProtocolError) -> NoReturn:
        if error.status != 502:  # the shared readers speak for a server: 400, 413, 431
            error = bad(error.detail)
        super()._fail(error)
