"""Field sections (a head's headers, a chunked body's trailers) from bytes to fields.
Owns the rules for field bytes and lines: no CTLs, no bare CR or LF, token names, no
whitespace before the colon, no obs-fold, OWS stripped from values, names lowercased."""

from __future__ import annotations

from typing import cast

from gateway.errors import ProtocolError
from gateway.http import grammar

Fields = list[tuple[str, str]]

# Valid names seen so far, mapped to their lowercase form. Clients send the same few dozen
# names over and over, so a dict hit replaces a regex match and a lower() per line. Bounded,
# since names are chosen by the peer.
_KNOWN_NAMES: dict[str, str] = {}
_MAX_KNOWN_NAMES = 1024

# Whole field lines seen before, mapped to their (name, value). A browser sends the same
# lines on every request of a page load, so one C-level map over a dict stands in for a
# partition, a name lookup and a strip per line (about 3x faster for a typical head).
# Bounded in count and in line length, since the peer chooses the lines.
_KNOWN_LINES: dict[str, tuple[str, str]] = {}
_MAX_KNOWN_LINES = 4096
_MAX_CACHED_LINE = 256
# Never cached: credentials should not outlive their request, and a cache hit is a
# (faint) timing signal that someone else sent the same line.
_SECRET_NAMES = frozenset(("authorization", "proxy-authorization", "cookie"))


def check_bytes(raw: bytes | bytearray, crlfs: int) -> None:
    """Reject a CTL anywhere in `raw`, or a CR or LF that is not one of its `crlfs` CRLFs.
    One C-level pass: delete every CTL, CR and LF, and see whether more went than the pairs."""
    if len(raw) - len(raw.translate(None, grammar.CTL_BYTES)) != 2 * crlfs:
        text = raw.decode("latin-1")
        if text.count("\r") != crlfs or text.count("\n") != crlfs:
            raise ProtocolError(400, f"bare cr or lf: {_first_bare_eol(text)!r}")
        bad = grammar.CTL.search(text)
        at = bad.start() if bad else 0
        near = text[max(0, at - 30) : at + 30]
        raise ProtocolError(400, f"control character {text[at]!r} in {near!r}")


def parse_fields(lines: list[str]) -> tuple[Fields, dict[str, str]]:
    """(fields, first-value index) of `lines`: field lines without their CRLF, latin-1
    decoded, that passed check_bytes."""
    found = list(map(_KNOWN_LINES.get, lines))
    items = _parse_lines(lines, found) if None in found else cast(Fields, found)
    # reversed, so that the first value of a repeated name is the one the index keeps
    return items, dict(reversed(items))


def _parse_lines(lines: list[str], found: list[tuple[str, str] | None]) -> Fields:
    """Fill in the lines the line cache did not know, and teach it them."""
    known = _KNOWN_NAMES
    items: Fields = []
    for line, item in zip(lines, found, strict=True):
        if item is None:
            name, colon, value = line.partition(":")
            lowered = known.get(name)
            if lowered is None or not colon:
                lowered = _learn_name(name, colon, line)
            item = (lowered, value.strip(" \t"))
            if (
                len(line) <= _MAX_CACHED_LINE
                and len(_KNOWN_LINES) < _MAX_KNOWN_LINES
                and lowered not in _SECRET_NAMES
            ):
                _KNOWN_LINES[line] = item
        items.append(item)
    return items


def values_of(items: Fields, name: str) -> list[str]:
    """Every value of the lowercase `name`, in order."""
    return [v for n, v in items if n == name]


def _learn_name(name: str, colon: str, line: str) -> str:
    if line[:1] in (" ", "\t"):
        raise ProtocolError(400, f"obsolete line folding is not accepted: {line!r}")
    if not colon:
        raise ProtocolError(400, f"field line without a colon: {line!r}")
    if not grammar.TOKEN.fullmatch(name):
        raise _name_error(name, line)
    lowered = name.lower()
    if len(_KNOWN_NAMES) < _MAX_KNOWN_NAMES:
        _KNOWN_NAMES[name] = lowered
    return lowered


def _name_error(name: str, line: str) -> ProtocolError:
    if not name:
        return ProtocolError(400, f"empty field name: {line!r}")
    if name[-1:] in (" ", "\t"):
        return ProtocolError(400, f"whitespace before the colon of a field name: {line!r}")
    return ProtocolError(400, f"field name is not a token: {name!r}")


def _first_bare_eol(text: str) -> str:
    """The line around the first bare CR or LF, for the error message."""
    for line in text.split("\r\n"):
        if "\r" in line or "\n" in line:
            return line[:80]
    return text[:80]
