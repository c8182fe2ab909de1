"""Checks on a field section (a head or a trailer section) that has not fully arrived yet.
Remembers how far it has looked, relative to the section's first byte, so feeding a byte at
a time stays linear and compacting the buffer in front of the section changes nothing."""

from __future__ import annotations

from gateway.errors import ProtocolError
from gateway.http import grammar


class PartialSection:
    """Rejects a bare CR or LF as soon as it arrives, and a section over `max_bytes` or
    `max_fields` lines (431) before its terminating empty line has been seen."""

    __slots__ = ("_counted", "_fields", "_max_bytes", "_max_fields", "_scanned", "_what")

    def __init__(self, max_bytes: int, max_fields: int, what: str) -> None:
        self._max_bytes = max_bytes
        self._max_fields = max_fields
        self._what = what
        self.reset()

    def reset(self) -> None:
        self._scanned = 0  # bytes of the section already checked for bare CR / LF
        self._counted = -1  # bytes of the field lines already searched for CRLFs
        self._fields = 0

    def search_from(self, start: int) -> int:
        """Where a search for the terminating CRLF CRLF may resume: 3 bytes back, since the
        last bytes seen may be the first bytes of the terminator."""
        return start + max(0, self._scanned - 3)

    def check(self, buf: bytearray, start: int, n: int, fields_start: int) -> None:
        """`buf[start:n]` is the section so far; its field lines begin at `fields_start`
        (-1 while a head's request line is still arriving)."""
        bad = grammar.BARE_EOL.search(buf, start + max(0, self._scanned - 1), n)
        if bad is not None:
            line_start = buf.rfind(b"\n", start, bad.start()) + 1
            line = bytes(buf[max(start, line_start) : bad.end() + 1])
            raise ProtocolError(400, f"bare cr or lf: {line[:80]!r}")
        self._scanned = n - start
        if fields_start < 0:
            return
        if n - fields_start > self._max_bytes:
            raise ProtocolError(431, f"{self._what} is over the limit of {self._max_bytes} bytes")
        counted = max(self._counted, fields_start - start)
        self._fields += buf.count(b"\r\n", start + counted, n)
        # a CR at the very end was not counted yet: its LF is still to come
        self._counted = n - start - (buf[n - 1] == 13)
        if self._fields > self._max_fields:
            raise ProtocolError(431, f"{self._what} has more than {self._max_fields} fields")

    def check_complete(self, size: int, fields: int) -> None:
        """The limits, once the whole section of `size` bytes and `fields` lines is in."""
        if size > self._max_bytes:
            raise ProtocolError(431, f"{self._what} is over the limit of {self._max_bytes} bytes")
        if fields > self._max_fields:
            raise ProtocolError(431, f"{self._what} has more than {self._max_fields} fields")
