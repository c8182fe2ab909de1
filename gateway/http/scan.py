"""Checks on a field section (a head or a trailer section) that has not fully arrived yet.
Remembers how far it has looked, relative to the section's first byte, so feeding a byte at
a time stays linear and compacting the buffer in front of the section changes nothing.
Each check knows the byte at which its evidence is complete, and the earliest one is the
verdict: what a byte-at-a-time feed would have met first, however the bytes were split."""

from __future__ import annotations

from gateway.errors import ProtocolError
from gateway.http import grammar

# On a tie (one byte completes the evidence of two errors): malformed bytes, then the
# request line (the parser's 414), then the section's size, then its number of fields.
RANK_BARE_EOL, RANK_LINE, RANK_BYTES, RANK_FIELDS = range(4)

Found = tuple[int, int, ProtocolError]  # (byte offset that completes the evidence, rank, error)


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

    def first_bare_eol(self, buf: bytearray, start: int, stop: int) -> Found | None:
        """The first bare CR or LF in `buf[start:stop]` not searched before. A CR is bare
        once the byte after it (within stop) is not LF; a LF, when no CR precedes it."""
        bad = grammar.BARE_EOL.search(buf, start + max(0, self._scanned - 1), stop)
        self._scanned = max(self._scanned, stop - start)
        if bad is None:
            return None
        at = bad.start()
        line_start = buf.rfind(b"\n", start, at) + 1
        line = bytes(buf[max(start, line_start) : bad.end() + 1])
        error = ProtocolError(400, f"bare cr or lf: {line[:80]!r}")
        return (at + 1 if buf[at] == 10 else at + 2), RANK_BARE_EOL, error

    def check(
        self, buf: bytearray, start: int, n: int, fields_start: int, end: int = -1
    ) -> Found | None:
        """The earliest error in `buf[start:n]`, the section so far; its field lines begin at
        `fields_start`. `end` is where the terminating CRLF CRLF begins, once it has come
        (then n is end + 4), else -1."""
        found = [f for f in (self.first_bare_eol(buf, start, n),) if f is not None]
        if n - fields_start > self._max_bytes:
            error = ProtocolError(431, f"{self._what} is over the limit of {self._max_bytes} bytes")
            found.append((fields_start + self._max_bytes + 1, RANK_BYTES, error))
        # every CRLF before the terminator's second one ends a field line
        stop = end + 2 if end >= 0 else n
        counted = max(self._counted, fields_start - start)
        self._fields += buf.count(b"\r\n", start + counted, stop)
        # a CR at the very end was not counted yet: its LF is still to come
        self._counted = stop - start - (stop > start and buf[stop - 1] == 13)
        if self._fields > self._max_fields:
            at = fields_start - 2
            for _ in range(self._max_fields + 1):
                at = buf.find(b"\r\n", at + 2, stop)
            error = ProtocolError(431, f"{self._what} has more than {self._max_fields} fields")
            found.append((at + 2, RANK_FIELDS, error))
        return min(found, key=_order) if found else None

    def raise_first(self, buf: bytearray, start: int, n: int, fields_start: int) -> None:
        """check(), for a section still arriving: raise its earliest error, if any."""
        found = self.check(buf, start, n, fields_start)
        if found is not None:
            raise found[2]

    def check_complete(self, buf: bytearray, start: int, end: int) -> None:
        """The limits and line endings of a whole section `buf[start:end + 4]`."""
        found = self.check(buf, start, end + 4, start, end)
        if found is not None:
            raise found[2]


def _order(found: Found) -> tuple[int, int]:
    return found[0], found[1]
