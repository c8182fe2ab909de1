"""RequestParser: the front door of gateway.http. Bytes go in with feed(), events come out
of next_event(). Owns the receive buffer, the limits, and which part of a request comes
next; after each EndOfMessage it pauses until start_next(), so pipelined bytes wait."""

from __future__ import annotations

from collections.abc import Callable

from gateway.errors import ProtocolError
from gateway.http import grammar
from gateway.http.body import BodyStates, ChunkedReader
from gateway.http.events import NEED_DATA, Event, RequestHead
from gateway.http.fields import check_bytes
from gateway.http.head import BodyOverLimit, parse_head, parse_request_line, split_target
from gateway.http.scan import PartialSection

# Parsed heads by their exact bytes, one table per set of limits (a head valid under one is
# not under another): clients repeat the same head, and a RequestHead is immutable, so a
# repeat skips the parsing. Emptied when full: bounded, with no bookkeeping per hit.
_MAX_CACHED_HEADS = 256
_HEADS: dict[tuple[int, int, int, int], dict[bytes, RequestHead]] = {}


def known_heads(limits: dict[str, int]) -> dict[bytes, RequestHead]:
    """The table of heads parsed under `limits` (RequestParser's keywords): a head's bytes,
    without its final CRLF CRLF, -> its RequestHead. Read-only for its users."""
    return RequestParser(**limits)._heads


class RequestParser(BodyStates):
    """Parses the requests of one connection, one after another:
    `p.feed(data); while (ev := p.next_event()) is not NEED_DATA: ...`.
    Raises ProtocolError(status, detail) for anything malformed or over a limit; after
    that every next_event() raises the same error again.

    Limits: `max_request_line` bytes of request line, CRLF excluded (414);
    `max_header_bytes` of header section after the request line, its final empty line
    included, and `max_headers` field lines (431; the same two bound a trailer section);
    `max_body_bytes` of body, decided from Content-Length at the head or from each chunk
    size as it arrives (413). All are enforced while the bytes are still arriving.
    A head whose Content-Length is over `max_body_bytes` is still emitted (with
    content_length None and keep_alive False), and the next event raises the 413.

    One verdict per input, however its bytes are split across feed() calls: the error is
    the one whose evidence is complete at the earliest byte, as if the bytes came one at a
    time. Bare CR/LF counts from the byte that makes it bare; 414 from the byte after the
    longest allowed request line and its CR; the request line's syntax, version and method
    (400/501/505) from its CRLF; 431 from the byte past `max_header_bytes` or the CRLF of
    field line `max_headers + 1`. When one byte completes two of these, the order is: bare
    CR/LF, 414, request-line syntax, header bytes, header count. Everything judged on the
    whole head (control characters, field syntax, Host, framing, 413, 417) comes after."""

    # Slots (and BodyStates'): one parser per connection with a request arriving; a __dict__
    # would double it.
    __slots__ = (
        "_heads",
        "_line_end",
        "_line_scanned",
        "_section",
        "max_body_bytes",
        "max_header_bytes",
        "max_headers",
        "max_request_line",
    )

    def __init__(
        self,
        *,
        max_header_bytes: int = 16384,
        max_headers: int = 100,
        max_body_bytes: int = 10 * 1024 * 1024,
        max_request_line: int = 8192,
    ) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_body_bytes = max_body_bytes
        self.max_request_line = max_request_line
        self._buf = bytearray()
        self._pos = 0  # bytes of _buf already consumed
        # The current state is the method that reads the next event; calling it beats
        # comparing an enum on every call of the hot path.
        self._read: Callable[[], Event] = self._read_head
        self._section = PartialSection(max_header_bytes, max_headers, "header section")
        self._line_end = -1  # end of the request line while the head is arriving, or -1
        self._line_scanned = 0  # bytes searched for the request line's CRLF so far
        self._left = 0  # Content-Length bytes still to come
        self._chunked: ChunkedReader | None = None
        self._error: ProtocolError | None = None
        limits = (max_header_bytes, max_headers, max_body_bytes, max_request_line)
        self._heads = _HEADS.setdefault(limits, {})

    def feed(self, data: bytes) -> None:
        """Append bytes received from the peer. Never parses: next_event() does."""
        self._buf += data

    def next_event(self) -> Event:
        """RequestHead, then Data (as much body as has arrived), then EndOfMessage; NEED_DATA
        when more bytes are needed; PAUSED from EndOfMessage until start_next()."""
        return self._read()

    def start_next(self) -> None:
        """Begin the next request, once the response to the last one is on its way."""
        if self._read != self._paused:
            raise RuntimeError("start_next() called before the request's EndOfMessage")
        del self._buf[: self._pos]
        self._pos = 0
        self._section.reset()
        self._line_end = -1
        self._line_scanned = 0
        self._read = self._read_head

    def body_left(self) -> int:
        """Bytes of a Content-Length body still to come when every byte received so far
        was parsed (0 otherwise): what may go around the parser (a spliced upload)."""
        if self._read == self._read_length and self._pos == len(self._buf):
            return self._left
        return 0

    def body_skipped(self, count: int) -> None:
        """`count` bytes of the body went from the socket elsewhere without feed() (a
        splice); the body ends here (EndOfMessage next) when they were all that was left."""
        if count > self.body_left():
            raise RuntimeError(f"body_skipped({count}) past the {self._left} bytes left")
        self._left -= count
        if not self._left:
            self._read = self._read_end

    @property
    def at_rest(self) -> bool:
        """Between requests with nothing buffered: as good as new (start_next reset it),
        so it may serve another connection."""
        return not self._buf and self._read == self._read_head

    @property
    def buffered(self) -> bytes:
        """The bytes received but not consumed, e.g. a pipelined request."""
        return bytes(self._buf[self._pos :])

    @property
    def in_message(self) -> bool:
        """True from the first byte of a request (stray empty lines before it aside) until
        its EndOfMessage: a peer that closes now has cut a request short."""
        if self._read == self._paused:
            return False
        if self._read == self._read_head:
            # Without slicing: this runs per request, with pipelined bytes in the buffer.
            buf, pos, n = self._buf, self._pos, len(self._buf)
            while pos < n and buf[pos] in b"\r\n":
                pos += 1
            return pos < n
        return True

    def _read_head(self) -> Event:
        buf = self._buf
        pos = self._pos
        if pos == len(buf):
            return NEED_DATA  # the common case after each request: nothing more has come
        if buf.startswith(b"\r\n", pos):
            pos = self._skip_empty_lines(buf, pos)
        end = buf.find(b"\r\n\r\n", self._section.search_from(pos))
        if end < 0:
            self._head_incomplete(buf, pos)
            return NEED_DATA
        try:
            head = self._parse_head(buf, pos, end)
        except ProtocolError as error:
            return self._fail(error)
        except BodyOverLimit as over:
            # h11's habit: the head is good, so it is emitted; the 413 comes next.
            self._pos = end + 4
            self._error = ProtocolError(413, over.detail)
            self._read = self._failed
            return over.head
        self._pos = end + 4
        if head.chunked:
            self._chunked = ChunkedReader(
                self.max_body_bytes, self.max_header_bytes, self.max_headers
            )
            self._read = self._read_chunked
        elif head.content_length:
            self._left = head.content_length
            self._read = self._read_length
        else:
            self._read = self._read_end
        return head

    def _skip_empty_lines(self, buf: bytearray, pos: int) -> int:
        # RFC 9112 §2.2: empty lines before a request line are ignored (some clients send
        # a CRLF after a POST body). They are consumed so they never count against limits.
        while buf.startswith(b"\r\n", pos):
            pos += 2
        self._consume(pos)
        self._section.reset()
        self._line_scanned = 0
        return self._pos

    def _parse_head(self, buf: bytearray, pos: int, end: int) -> RequestHead:
        raw = bytes(buf[pos:end])
        head = self._heads.get(raw)
        if head is None:
            head = self._parse_new_head(raw, buf, pos, end)
            heads = self._heads  # only a head that parsed without error is kept
            if len(heads) >= _MAX_CACHED_HEADS:
                heads.clear()
            heads[raw] = head
        return head

    def _parse_new_head(self, raw: bytes, buf: bytearray, pos: int, end: int) -> RequestHead:
        lines = raw.decode("latin-1").split("\r\n")
        fields = len(lines) - 1
        if (
            len(lines[0]) > self.max_request_line
            or end + 4 - (pos + len(lines[0]) + 2) > self.max_header_bytes
            or fields > self.max_headers
            or len(raw) - len(raw.translate(None, grammar.CTL_BYTES)) != 2 * fields
        ):
            # Something is wrong: find what a byte-at-a-time feed would have met first.
            self._check_head(buf, pos, end + 4, end)
            check_bytes(raw, fields)  # what is left: control characters
        return parse_head(lines, self.max_body_bytes)

    def _head_incomplete(self, buf: bytearray, pos: int) -> None:
        try:
            self._check_head(buf, pos, len(buf), -1)
        except ProtocolError as error:
            self._fail(error)

    def _check_head(self, buf: bytearray, pos: int, n: int, end: int) -> None:
        """Raise the error that `buf[pos:n]`, a head so far (complete when `end` >= 0),
        holds at its earliest byte; see the precedence rule in the class docstring."""
        section = self._section
        if self._line_end < 0:
            window = pos + self.max_request_line + 2  # room for the longest line's CRLF
            stop = min(n, window)
            line_end = buf.find(b"\r\n", pos + self._line_scanned, stop)
            if line_end < 0:
                self._line_scanned = max(0, stop - pos - 1)  # less a CR that may end it
                bare = section.first_bare_eol(buf, pos, stop)
                if bare is not None:
                    raise bare[2]
                if n >= window:
                    raise _line_too_long(self.max_request_line)
                return
            bare = section.first_bare_eol(buf, pos, line_end + 2)
            if bare is not None:
                raise bare[2]
            # The request line is complete: judge it now, before any header arrives.
            method, target, _version = parse_request_line(buf[pos:line_end].decode("latin-1"))
            split_target(method, target)
            self._line_end = line_end - pos
        found = section.check(buf, pos, n, pos + self._line_end + 2, end)
        if found is not None:
            raise found[2]


def _line_too_long(limit: int) -> ProtocolError:
    return ProtocolError(414, f"request line is over the limit of {limit} bytes")
