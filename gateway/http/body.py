"""The chunked transfer coding (RFC 9112 §7.1) read out of the parser's buffer.
Owns chunk-size lines (extensions accepted and ignored), the CRLF after each chunk's data,
the trailer section, and the running total against the body limit."""

from __future__ import annotations

import enum

from gateway.errors import ProtocolError
from gateway.http import grammar
from gateway.http.fields import check_bytes, parse_fields
from gateway.http.headers import Headers
from gateway.http.scan import PartialSection

# A chunk-size line with generous room for extensions; longer is an attack or a bug.
MAX_CHUNK_LINE = 4096


class _Phase(enum.Enum):
    SIZE = "size"  # before a chunk-size line
    DATA = "data"  # inside a chunk's data
    DATA_END = "data end"  # before the CRLF that closes a chunk's data
    TRAILERS = "trailers"  # after the last chunk, before the end of the trailer section
    DONE = "done"


class ChunkedReader:
    """Decodes one chunked body. `read` takes what it can from the buffer; once `done`,
    `trailers` holds the trailer fields (None when there were none)."""

    __slots__ = ("_left", "_max_body", "_phase", "_scanned", "_section", "_total", "trailers")

    def __init__(self, max_body_bytes: int, max_header_bytes: int, max_headers: int) -> None:
        self._max_body = max_body_bytes
        self._section = PartialSection(max_header_bytes, max_headers, "trailer section")
        self._phase = _Phase.SIZE
        self._left = 0  # bytes of the current chunk's data still to come
        self._scanned = 0  # bytes of a chunk-size line searched for its CRLF so far
        self._total = 0
        self.trailers: Headers | None = None

    @property
    def done(self) -> bool:
        return self._phase is _Phase.DONE

    def read(self, buf: bytearray, pos: int) -> tuple[bytes, int]:
        """(decoded body bytes available at `buf[pos:]`, new pos)."""
        pieces: list[bytes] = []
        n = len(buf)
        while pos < n:
            phase = self._phase
            if phase is _Phase.DATA:
                end = min(n, pos + self._left)
                pieces.append(bytes(buf[pos:end]))
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
            section.check(buf, pos, n, pos)
            return pos
        self._phase = _Phase.DONE
        raw = buf[pos:end]
        lines = raw.decode("latin-1").split("\r\n")
        section.check_complete(end + 4 - pos, len(lines))
        check_bytes(raw, len(lines) - 1)
        items, index = parse_fields(lines)
        self.trailers = Headers.from_lowered(items, index)
        return end + 4
