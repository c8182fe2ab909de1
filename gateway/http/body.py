"""Message bodies read out of a parser's buffer: the chunked transfer coding (RFC 9112 §7.1:
chunk-size lines, extensions ignored, the CRLF after each chunk, trailers, the body limit)
and BodyStates, the body-event states the request and the response parser share."""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Callable
from itertools import chain
from typing import NoReturn

from gateway.errors import ProtocolError
from gateway.http import grammar
from gateway.http.events import NEED_DATA, PAUSED, Data, EndOfMessage, Sentinel
from gateway.http.fields import check_bytes, parse_fields
from gateway.http.headers import Headers
from gateway.http.scan import PartialSection

# A chunk-size line with generous room for extensions; longer is an attack or a bug.
MAX_CHUNK_LINE = 4096
# Chunk extensions are ignored, and max_body_bytes counts data only: without a cap of their
# own, 1-byte chunks each with a 4 KiB extension would make a body of max_body_bytes cost
# 4,000 times that on the wire (RFC 9112 §7.1.1: "a server ought to limit the total length
# of chunk extensions"). The total per body, as Node's llhttp and hyper cap it.
MAX_CHUNK_EXTENSIONS = 16384
# At most this many decoded bytes per read(), so one call on a huge buffer stays bounded;
# the caller calls again (and a server may serve other connections in between).
MAX_READ_BYTES = 1 << 20
# ... and at most this many chunks decoded one by one (a run of identical ones counts as
# one), so a call on a buffer of tiny mixed chunks stays within a few milliseconds.
MAX_READ_CHUNKS = 4096
# Runs of at least this many tiny identical chunks (the "1-byte chunks" flood) are decoded
# with strided slices, in C, instead of one Python step per chunk.
_RUN_MIN = 8
# Consumed bytes are cut off the front of a parser's buffer once there are this many of
# them (and always at start_next), so a long body does not keep a long buffer alive.
_COMPACT_AT = 65536
_END = EndOfMessage()
# Where copying a slice of the buffer through a memoryview starts to pay (measured: a view
# costs ~110 ns more to make; two copies cost more than that from about 16 KiB).
_VIEW_FROM = 16384
_HEX_DIGITS = b"0123456789abcdefABCDEF"


# A whole chunk-size line, CRLF included, for the fast path (grammar.CHUNK_LINE + CRLF).
_SIZE_LINE = re.compile(grammar.CHUNK_LINE.pattern + rb"\r\n")


class _Phase(enum.Enum):
    SIZE = "size"  # before a chunk-size line
    DATA = "data"  # inside a chunk's data
    DATA_END = "data end"  # before the CRLF that closes a chunk's data
    TRAILERS = "trailers"  # after the last chunk, before the end of the trailer section
    DONE = "done"


class ChunkedReader:
    """Decodes one chunked body. `read` takes what it can from the buffer; once `done`,
    `trailers` holds the trailer fields (None when there were none)."""

    __slots__ = (
        "_extensions",
        "_left",
        "_max_body",
        "_phase",
        "_scanned",
        "_section",
        "_total",
        "trailers",
    )

    def __init__(self, max_body_bytes: int, max_header_bytes: int, max_headers: int) -> None:
        self._max_body = max_body_bytes
        self._section = PartialSection(max_header_bytes, max_headers, "trailer section")
        self._phase = _Phase.SIZE
        self._left = 0  # bytes of the current chunk's data still to come
        self._scanned = 0  # bytes of a chunk-size line searched for its CRLF so far
        self._total = 0
        self._extensions = 0  # bytes of chunk extensions so far (MAX_CHUNK_EXTENSIONS)
        self.trailers: Headers | None = None

    @property
    def done(self) -> bool:
        return self._phase is _Phase.DONE

    def read(self, buf: bytearray, pos: int) -> tuple[bytes, int]:
        """(decoded body bytes available at `buf[pos:]`, new pos): every complete chunk in
        the buffer, up to about MAX_READ_BYTES of body per call."""
        pieces: list[bytes | bytearray] = []
        n = len(buf)
        budget = MAX_READ_BYTES
        while pos < n and budget > 0:
            phase = self._phase
            if phase is _Phase.SIZE and n - pos >= 6:
                pos, budget = self._read_complete_chunks(buf, pos, n, pieces, budget)
                if pos >= n or budget <= 0 or self._phase is not _Phase.SIZE:
                    continue
            if phase is _Phase.DATA:
                end = min(n, pos + self._left)
                pieces.append(bytes(buf[pos:end]))
                budget -= end - pos
                self._left -= end - pos
                pos = end
                if not self._left:
                    self._phase = _Phase.DATA_END
            elif phase is _Phase.SIZE:
                next_pos = self._read_size(buf, pos, n)
                if next_pos == pos:
                    break
                pos = next_pos
            elif phase is _Phase.DATA_END:
                if buf[pos] != 13 or (n - pos > 1 and buf[pos + 1] != 10):
                    got = bytes(buf[pos : pos + 2])
                    raise ProtocolError(400, f"chunk data not followed by crlf: {got!r}")
                if n - pos < 2:
                    break
                pos += 2
                self._phase = _Phase.SIZE
            elif phase is _Phase.TRAILERS:
                pos = self._read_trailers(buf, pos, n)
                break
            else:
                break
        return b"".join(pieces), pos

    def _read_complete_chunks(
        self, buf: bytearray, pos: int, n: int, pieces: list[bytes | bytearray], budget: int
    ) -> tuple[int, int]:
        """The fast path: whole chunks (size line, data, CRLF) that are all in the buffer,
        a few bytecodes each, and runs of identical small chunks in one strided step.
        Stops, leaving the phase at SIZE, at anything else (an incomplete chunk, a last
        chunk, a malformed line): the careful path takes it from there."""
        match_line = _SIZE_LINE.match
        append = pieces.append
        total, limit = self._total, self._max_body
        last = same = 0  # the previous chunk's framing (line length and size), and repeats
        for _ in range(MAX_READ_CHUNKS):
            if budget <= 0:
                break
            m = match_line(buf, pos, pos + MAX_CHUNK_LINE + 2)
            if m is None:
                break
            size = int(m.group(1), 16)
            start = m.end()
            end = start + size
            # the last chunk, a partial one, one over the limit, or an error to report:
            # the careful path takes it
            if not size or end + 2 > n or total + size > limit or not buf.startswith(b"\r\n", end):
                break
            extension = start - 2 - m.end(1)
            if extension:  # rare: counted, and past the cap the careful path refuses it
                if self._extensions + extension > MAX_CHUNK_EXTENSIONS:
                    break
                self._extensions += extension
            total += size
            append(buf[start:end])  # a bytearray: join copies it once, no bytes() needed
            budget -= size
            framing = (start - pos) << 32 | size
            same = same + 1 if framing == last else 0
            last = framing
            if same >= _RUN_MIN and size <= 64:
                self._total = total
                pos, budget = self._read_run(
                    buf, end + 2, n, bytes(buf[pos:start]), size, pieces, budget
                )
                total = self._total
                same = 0
            else:
                pos = end + 2
            self._scanned = 0  # a partial size line searched before is behind us now
        else:
            budget = 0  # MAX_READ_CHUNKS reached: the caller calls again
        self._total = total
        return pos, budget

    def _read_run(
        self,
        buf: bytearray,
        pos: int,
        n: int,
        line: bytes,
        size: int,
        pieces: list[bytes | bytearray],
        budget: int,
    ) -> tuple[int, int]:
        """Decode the longest run of chunks framed exactly as `line` + data + CRLF at pos:
        each framing byte is checked column-wise (one strided slice per byte of framing),
        and the data comes out as one slice (size 1) or one struct unpack."""
        step = len(line) + size + 2
        count = min((n - pos) // step, max(1, budget // size))
        extension = len(line.rstrip(b"\r\n").lstrip(_HEX_DIGITS))
        if extension:  # as many as fit under the cap; the careful path refuses the next
            count = min(count, (MAX_CHUNK_EXTENSIONS - self._extensions) // extension)
        framing = line + b"\x00" * size + b"\r\n"
        offsets = [*range(len(line)), len(line) + size, len(line) + size + 1]
        for j in offsets:
            column = buf[pos + j : pos + count * step : step]
            fill = framing[j : j + 1]
            count = min(count, len(column) - len(column.lstrip(fill)))
            if not count:
                return pos, budget
        total = self._total + count * size
        if total > self._max_body:
            return pos, budget
        self._total = total
        self._extensions += count * extension
        region = memoryview(buf)[pos : pos + count * step]
        if size == 1:
            pieces.append(bytes(region[len(line) :: step]))
        else:
            fmt = f"{len(line)}x{size}s2x"
            pieces.append(b"".join(chain.from_iterable(struct.iter_unpack(fmt, region))))
        region.release()
        return pos + count * step, budget - count * size

    def _read_size(self, buf: bytearray, pos: int, n: int) -> int:
        end = buf.find(b"\r\n", pos + self._scanned, pos + MAX_CHUNK_LINE + 2)
        if end < 0:
            if n - pos > MAX_CHUNK_LINE:
                raise ProtocolError(400, f"chunk-size line over {MAX_CHUNK_LINE} bytes")
            # resume there next time (less a byte that may be the CR of the CRLF)
            self._scanned = n - pos - 1
            return pos
        self._scanned = 0
        match = grammar.CHUNK_LINE.fullmatch(buf, pos, end)
        if match is None:
            raise ProtocolError(400, f"illegal chunk header: {bytes(buf[pos:end])[:80]!r}")
        size = int(match.group(1), 16)
        self._total += size
        if self._total > self._max_body:
            raise ProtocolError(413, f"chunked body is over the limit of {self._max_body} bytes")
        self._extensions += end - match.end(1)
        if self._extensions > MAX_CHUNK_EXTENSIONS:
            raise ProtocolError(
                413, f"chunk extensions are over {MAX_CHUNK_EXTENSIONS} bytes in one body"
            )
        if size:
            self._left = size
            self._phase = _Phase.DATA
        else:
            self._phase = _Phase.TRAILERS
            self._section.reset()
        return end + 2

    def _read_trailers(self, buf: bytearray, pos: int, n: int) -> int:
        section = self._section
        if buf.startswith(b"\r\n", pos):  # no trailer fields: the usual case
            self._phase = _Phase.DONE
            return pos + 2
        end = buf.find(b"\r\n\r\n", section.search_from(pos))
        if end < 0:
            section.raise_first(buf, pos, n, pos)
            return pos
        section.check_complete(buf, pos, end)
        self._phase = _Phase.DONE
        raw = buf[pos:end]
        lines = raw.decode("latin-1").split("\r\n")
        check_bytes(raw, len(lines) - 1)
        items, index = parse_fields(lines)
        self.trailers = Headers.from_lowered(items, index)
        return end + 4


BodyEvent = Data | EndOfMessage | Sentinel


class BodyStates:
    """The states a parser is in after a head: a Content-Length body, a chunked one, the
    end, and the pause after EndOfMessage. A parser points `_read` at one of them; it keeps
    the attributes below and may override `_fail` (the error it raises) and `_cut_short`
    (the peer closed inside a body: only a parser that sets `_eof` meets it)."""

    # Slots: the request parser is slotted (one per connection); the response parser is not.
    __slots__ = ("_buf", "_chunked", "_error", "_left", "_pos", "_read")

    _buf: bytearray
    _pos: int
    _left: int  # Content-Length bytes still to come
    _chunked: ChunkedReader | None
    _error: ProtocolError | None
    _read: Callable[[], object]
    _eof = False

    def _read_length(self) -> BodyEvent:
        buf, pos = self._buf, self._pos
        end = min(len(buf), pos + self._left)
        if end == pos:
            if self._eof:
                return self._cut_short(f"with {self._left} bytes to come")
            return NEED_DATA
        data = copy_bytes(buf, pos, end)
        self._left -= end - pos
        self._consume(end)
        if not self._left:
            self._read = self._read_end
        return Data(data)

    def _read_chunked(self) -> BodyEvent:
        reader = self._chunked
        assert reader is not None
        try:
            data, pos = reader.read(self._buf, self._pos)
        except ProtocolError as error:
            return self._fail(error)
        self._consume(pos)
        if data:
            return Data(data)
        if reader.done:
            self._chunked = None
            self._read = self._paused
            return EndOfMessage(reader.trailers) if reader.trailers is not None else _END
        if self._eof:
            return self._cut_short("in a chunked body")
        return NEED_DATA

    def _read_end(self) -> BodyEvent:
        self._read = self._paused
        return _END

    def _paused(self) -> BodyEvent:
        return PAUSED

    def _consume(self, pos: int) -> None:
        if pos >= _COMPACT_AT:
            del self._buf[:pos]
            pos = 0
        self._pos = pos

    def _fail(self, error: ProtocolError) -> NoReturn:
        """Raise `error`, now and at every next_event() after."""
        self._error = error
        self._read = self._failed
        raise error

    def _failed(self) -> NoReturn:
        assert self._error is not None
        raise self._error

    def _cut_short(self, where: str) -> NoReturn:
        raise NotImplementedError(f"a parser that sets _eof says what closing {where} means")


def copy_bytes(buf: bytearray, start: int, end: int) -> bytes:
    """bytes of buf[start:end]. Under _VIEW_FROM bytes, bytes(buf[start:end]) (two copies,
    cheaper than making a view); above, one copy through a view, released at once so the
    buffer can be compacted afterwards."""
    if end - start < _VIEW_FROM:
        return bytes(buf[start:end])
    if start == 0 and end == len(buf):
        return bytes(buf)
    with memoryview(buf) as view:
        return view[start:end].tobytes()
