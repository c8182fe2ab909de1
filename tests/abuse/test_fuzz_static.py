"""Seeded fuzzing of static mounts through a real server over raw sockets: random targets
built from traversal pieces (.., %2e, %2f, %5c, %00, overlong UTF-8, symlinks, dotfiles, odd
percent-encodings) never send a byte from outside the served folder, never a 500, and a 200
is always a file that is in it; random Range headers (odd units, specs, numbers, overlaps,
too many) get exactly the bytes, Content-Range and status a plain RFC 9110 §14 reading says."""

from __future__ import annotations

import logging
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import ProtocolError
from tests.abuse.test_fuzz_server import exchange, responses
from tests.support import Running, running_server, write_site

SEED = 9116
PATHS = 1200
RANGES = 1500
SECRET = b"STATIC-SECRET-51ab"
SIZE = 100
DATA = bytes(range(SIZE))

CONFIG = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [[static]]
    prefix = "/s"
    dir = "public"
    listing = true
    precompressed = ["gzip"]

    [[static]]
    prefix = "/"
    dir = "public"
    fallback = "index.html"
    dotfiles = "ignore"
"""
PUBLIC = {
    "public/index.html": b"<!doctype html><title>index</title>\n",
    "public/a.txt": b"alpha\n",
    "public/a.txt.gz": b"\x1f\x8bGZIPPED-ALPHA",
    "public/r.bin": DATA,
    "public/sub/b.txt": b"bravo\n",
    "public/sub/index.html": b"<!doctype html><title>sub</title>\n",
    "public/caf\xe9.txt": b"unicode name\n",
    "public/sp ace.txt": b"space name\n",
}
PIECES = [
    "..",
    ".",
    "%2e%2e",
    "%2E%2e",
    "%2e",
    ".%2e",
    "%2f",
    "%2F",
    "%5c",
    "\\",
    "%00",
    "%c0%ae",
    "%c0%af",
    "%e0%80%ae",
    "%252e%252e",
    "%25",
    "%",
    "a.txt",
    "sub",
    "b.txt",
    "index.html",
    ".env",
    "out",
    "secret.txt",
    "private",
    "etc",
    "passwd",
    "r.bin",
    "caf%c3%a9.txt",
    "caf%e9.txt",
    "sp%20ace.txt",
    "sp+ace.txt",
    "",
    "~",
    ";",
    "a.txt;x",
    "a.txt%3f",
    "C:",
    "%2e%2e%2f",
    "..%2f",
    "..%5c",
    "a.txt.gz",
    "A.TXT",
    "sub%2fb.txt",
    "%u002e",
    "...",
]


def make_site(root: Path) -> Path:
    path = write_site(root, CONFIG, dict(PUBLIC.items()))  # type: ignore[arg-type]
    (root / "public" / ".env").write_bytes(SECRET)
    (root / "secret.txt").write_bytes(SECRET)
    (root / "private").mkdir()
    (root / "private" / "secret.txt").write_bytes(SECRET)
    os.symlink(root / "private", root / "public" / "out")
    os.symlink(root / "secret.txt", root / "public" / "link.txt")
    return path


@pytest.fixture
def server(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Running]:
    caplog.set_level(logging.WARNING)
    with running_server(make_site(tmp_path)) as running:
        yield running
    bad = [r for r in caplog.get_records("call") if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, "the server logged:\n" + "\n".join(r.getMessage() for r in bad)


def get(port: int, target: str, *lines: str, method: str = "GET") -> tuple[int, bytes, bytes]:
    """(status, head, body) of one request on a fresh connection."""
    head = "".join(f"{line}\r\n" for line in ("Host: a", *lines))
    raw = f"{method} {target} HTTP/1.1\r\n{head}\r\n".encode("latin-1")
    data, closed = exchange(port, raw)
    assert closed, f"no answer in time to {raw!r}"
    assert SECRET not in data, f"{raw!r} got a file from outside the folder: {data[:300]!r}"
    (status, body), *_ = responses(data, [method])
    return status, data.partition(b"\r\n\r\n")[0], body


def test_random_targets_stay_in_the_folder(server: Running) -> None:
    rng = random.Random(SEED)
    served = set(PUBLIC.values())
    found = []
    for _ in range(PATHS):
        segments = [rng.choice(PIECES) for _ in range(rng.randint(1, 5))]
        target = rng.choice(("/s/", "/", "//", "/s/sub/")) + "/".join(segments)
        if rng.random() < 0.2:
            target += rng.choice(("/", "?x=..", "?", "%2f", "/."))
        try:
            status, head, body = get(server.port, target, method=rng.choice(("GET", "HEAD")))
        except ProtocolError as error:
            found.append(f"{target}: a malformed answer: {error.detail}")
            continue
        if status >= 500 or (status == 200 and body and body not in served and b"<" not in body):
            found.append(f"{target}: {status} {head[:80]!r} {body[:80]!r}")
    assert not found, f"{len(found)} of {PATHS}:\n" + "\n".join(found[:15])


def expected_ranges(value: str) -> list[tuple[int, int]] | None:
    """RFC 9110 §14.1-14.2 read plainly, with gateway's documented choices (docs/static.md):
    None (send it all) for another unit, bad syntax, last < first, over 16 specs or specs
    that overlap to more than the file; [] when none is satisfiable (416); else the spans,
    sorted, overlapping and adjacent ones merged."""
    unit, eq, specs = value.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    items = [s.strip() for s in specs.split(",") if s.strip()]
    if not items or len(items) > 16:
        return None
    spans = []
    for item in items:
        m = re.fullmatch(r"([0-9]*)-([0-9]*)", item)
        if m is None or m.groups() == ("", ""):
            return None
        first, last = m.groups()
        if first and last and int(last) < int(first):
            return None
        if first and int(first) < SIZE:
            spans.append((int(first), min(int(last) if last else SIZE - 1, SIZE - 1)))
        elif not first and int(last) > 0:
            spans.append((max(SIZE - int(last), 0), SIZE - 1))
    if len(spans) > 1 and sum(b - a + 1 for a, b in spans) > SIZE:
        return None
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


NUMBERS = ["0", "1", "5", "49", "50", "99", "100", "101", "150", "", "007", "9" * 25]


def random_range(rng: random.Random) -> str:
    specs = []
    for _ in range(rng.choice((1, 1, 1, 1, 2, 2, 3, 5, 17))):
        first, last = rng.choice(NUMBERS), rng.choice(NUMBERS)
        if first and last and int(last) < int(first) and rng.random() < 0.8:
            first, last = last, first  # mostly well-ordered, so most are satisfiable
        specs.append(f"{first}-{last}")
    unit = rng.choice(("bytes=",) * 6 + ("Bytes=", "bytes =", "items=", "bytes"))
    value = unit + ",".join(specs)
    if rng.random() < 0.1:  # noise: a space, a sign, a letter, an empty element
        at = rng.randrange(len(value) + 1)
        value = value[:at] + rng.choice((" ", "+", "x", ",", "-", ";")) + value[at:]
    return value


def test_random_ranges_get_the_bytes_rfc_9110_says(server: Running) -> None:
    rng = random.Random(SEED)
    found = []
    for _ in range(RANGES):
        value = random_range(rng)
        want = expected_ranges(value)
        status, head, body = get(server.port, "/s/r.bin", f"Range: {value}")
        text = head.decode("latin-1").lower()
        if want is None:
            ok = status == 200 and body == DATA
        elif not want:
            ok = status == 416 and f"content-range: bytes */{SIZE}" in text
        elif len(want) == 1:
            ((a, b),) = want
            ok = (
                status == 206
                and body == DATA[a : b + 1]
                and f"content-range: bytes {a}-{b}/{SIZE}" in text
            )
        else:
            parts = [
                f"content-range: bytes {a}-{b}/{SIZE}\r\n\r\n".encode() + DATA[a : b + 1]
                for a, b in want
            ]
            ok = (
                status == 206
                and all(part in body for part in parts)
                and body.count(b"content-range") == len(want)
            )
        if not ok:
            found.append(
                f"Range: {value!r}: want {want}, got {status} {head[:120]!r} {body[:60]!r}"
            )
    assert not found, f"{len(found)} of {RANGES}:\n" + "\n".join(found[:15])
