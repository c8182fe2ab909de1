"""Seeded mutations of HTTP/1.1 messages for the fuzzers (tests/http/test_fuzz_parser.py,
tests/abuse/test_fuzz_server.py): byte flips, inserts and deletes, and the structural edits
request smuggling is made of (repeated or odd Content-Length, Transfer-Encoding lists,
obs-fold, whitespace before a colon, bare CR/LF, NUL, non-ASCII, odd chunk sizes)."""

from __future__ import annotations

import random
from collections.abc import Callable

Mutation = Callable[[bytes, random.Random], bytes]

# Bytes that mean something to a parser, drawn more often than the rest.
SPECIAL = b'\x00\t\n\r "#%(),/:;=?@[\\]\x7f\x80\xc3\xa9\xff0189aAfFxX-+'

ODD_LENGTHS = [
    "0",
    "5",
    "6",
    "4",
    "+5",
    "-5",
    "-1",
    " 5",
    "5 ",
    "5,5",
    "5, 6",
    "0x5",
    "5.0",
    "05",
    "1e3",
    "\xb2",
    "\u0665".encode().decode("latin-1"),
    "99999999999999999999999",
    "",
    "18446744073709551616",
    "5\x00",
    "\t5",
    "0005",
]
ODD_CODINGS = [
    "chunked",
    "Chunked",
    " chunked",
    "chunked ",
    "chunked, gzip",
    "gzip, chunked",
    "chunked, chunked",
    "chunked,",
    ", chunked",
    "identity",
    "xchunked",
    "chunked;q=1",
    "chunk",
    "\x0bchunked",
    "chunked\x00",
    "gzip",
    "identity, chunked",
    "CHUNKED",
    "chunked\t",
    '"chunked"',
    "chunked, identity",
]
ODD_CHUNK_SIZES = [
    b"0",
    b"1",
    b"5",
    b"6",
    b"4",
    b"-1",
    b"+5",
    b"0x5",
    b" 5",
    b"5 ",
    b"5;",
    b"5;a",
    b'5;a="b',
    b"5;a=b",
    b"5\t;a",
    b"ffffffffffffffff",
    b"fffffffffffffffff",
    b"10000000000000000",
    b"00000000000000005",
    b"5\x00",
    b"g",
    b"",
    b"\xc3\xa9",
    b"7fffffffffffffff",
]
ODD_LINES = (
    [b"Content-Length: %s" % s.encode("latin-1") for s in ODD_LENGTHS]
    + [b"Transfer-Encoding: %s" % s.encode("latin-1") for s in ODD_CODINGS]
    + [
        b"Content-Length : 5",
        b"Transfer-Encoding : chunked",
        b"Content-Length\t: 5",
        b" Transfer-Encoding: chunked",
        b"X-Fold: a\r\n b",
        b"X-Fold: a\r\n\tchunked",
        b"Host: other.example",
        b"Host:",
        b"Host: a b",
        b"Host: \xc3\xa9",
        b"Expect: 100-continue",
        b"Expect: 200-ok",
        b"Connection: close",
        b"Connection: keep-alive, close",
        b"X-\xc3\xa9: a",
        b"X\x00: a",
        b": empty",
        b"no colon",
        b"X-Nul: a\x00b",
        b"X-Del: \x7f",
        b"X-Cr: a\rb",
        b"X-Lf: a\nb",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5",
        b"Content-Length: 5\r\nContent-Length: 6",
        b"Content-Length: 5\r\nContent-Length: 5",
        b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip",
    ]
)
ODD_METHODS = [b"G\xc3\xa9T", b"GET\x00", b"", b"get", b"CONNECT", b"PRI", b"G T", b"GE(T", b"\x80"]
ODD_TARGETS = [
    b"/\xc3\xa9",
    b"/a%00b",
    b"/a\x00b",
    b"*",
    b"/a#b",
    b"//",
    b"http://a/",
    b"http://u@a/",
    b"a:80",
    b"/" + b"a" * 9000,
    b"/%2e%2e/",
    b"/\\..\\",
    b"ftp://a/",
    b"/a b",
]
ODD_VERSIONS = [b"HTTP/1.0", b"HTTP/1.2", b"HTTP/2.0", b"http/1.1", b"HTTP/1.1 ", b"HTTP/1", b""]


def head_end(raw: bytes) -> int:
    end = raw.find(b"\r\n\r\n")
    return len(raw) if end < 0 else end


def flip(raw: bytes, rng: random.Random) -> bytes:
    if not raw:
        return raw
    at = rng.randrange(len(raw))
    byte = rng.choice(SPECIAL) if rng.random() < 0.7 else rng.randrange(256)
    return raw[:at] + bytes([byte]) + raw[at + 1 :]


def insert(raw: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(raw) + 1)
    piece = bytes(rng.choice(SPECIAL) for _ in range(rng.randint(1, 3)))
    return raw[:at] + piece + raw[at:]


def delete(raw: bytes, rng: random.Random) -> bytes:
    if not raw:
        return raw
    at = rng.randrange(len(raw))
    return raw[:at] + raw[at + rng.randint(1, 4) :]


def add_line(raw: bytes, rng: random.Random) -> bytes:
    """An odd field line at a random place among the field lines."""
    end = head_end(raw)
    starts = [i + 2 for i in range(end) if raw.startswith(b"\r\n", i)] or [end]
    at = rng.choice(starts)
    return raw[:at] + rng.choice(ODD_LINES) + b"\r\n" + raw[at:]


def duplicate_line(raw: bytes, rng: random.Random) -> bytes:
    lines = raw[: head_end(raw)].split(b"\r\n")
    if len(lines) < 2:
        return raw
    i = rng.randrange(1, len(lines))
    lines.insert(i, lines[i])
    return b"\r\n".join(lines) + raw[head_end(raw) :]


def replace_line(raw: bytes, rng: random.Random) -> bytes:
    lines = raw[: head_end(raw)].split(b"\r\n")
    if len(lines) < 2:
        return raw
    lines[rng.randrange(1, len(lines))] = rng.choice(ODD_LINES)
    return b"\r\n".join(lines) + raw[head_end(raw) :]


def request_line(raw: bytes, rng: random.Random) -> bytes:
    """An odd method, target or version."""
    end = raw.find(b"\r\n")
    parts = raw[: max(end, 0)].split(b" ")
    if len(parts) != 3:
        return raw
    which = rng.randrange(3)
    parts[which] = rng.choice((ODD_METHODS, ODD_TARGETS, ODD_VERSIONS)[which])
    return b" ".join(parts) + raw[end:]


def chunk_size(raw: bytes, rng: random.Random) -> bytes:
    """An odd chunk-size in a chunked body (the first line after the head that starts
    with a hex digit), or a body made chunked with one."""
    body_at = head_end(raw) + 4
    if body_at > len(raw):
        return raw
    size = rng.choice(ODD_CHUNK_SIZES)
    lines = raw[body_at:].split(b"\r\n")
    sized = [i for i, line in enumerate(lines) if line[:1].isalnum()]
    if not sized:
        return raw + size + b"\r\nhello\r\n0\r\n\r\n"
    lines[rng.choice(sized)] = size
    return raw[:body_at] + b"\r\n".join(lines)


def bare_eol(raw: bytes, rng: random.Random) -> bytes:
    """Turn one CRLF into a bare LF or a bare CR, or put a bare one somewhere."""
    crlfs = [i for i in range(len(raw)) if raw.startswith(b"\r\n", i)]
    if crlfs and rng.random() < 0.6:
        at = rng.choice(crlfs)
        return raw[:at] + rng.choice((b"\n", b"\r", b"\n\r", b"\r\r\n")) + raw[at + 2 :]
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + rng.choice((b"\r", b"\n")) + raw[at:]


def pipeline(raw: bytes, rng: random.Random) -> bytes:
    """The message twice in a row, or with stray CRLFs in front."""
    return raw + raw if rng.random() < 0.7 else b"\r\n" * rng.randint(1, 3) + raw


def truncate(raw: bytes, rng: random.Random) -> bytes:
    return raw[: rng.randrange(len(raw) + 1)]


MUTATIONS: list[Mutation] = [
    flip,
    flip,
    insert,
    delete,
    add_line,
    add_line,
    duplicate_line,
    replace_line,
    request_line,
    chunk_size,
    chunk_size,
    bare_eol,
    pipeline,
    truncate,
]


def mutate(raw: bytes, rng: random.Random, at_most: int = 3) -> bytes:
    for _ in range(rng.randint(1, at_most)):
        raw = rng.choice(MUTATIONS)(raw, rng)
    return raw


def random_splits(raw: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(raw)), min(len(raw) - 1, rng.randint(1, 8))))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
