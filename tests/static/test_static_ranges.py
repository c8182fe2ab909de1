"""Range requests: parse_range on its own, then single, suffix, open, multiple (multipart,
parsed back), unsatisfiable, malformed and If-Range through StaticMount.serve."""

from __future__ import annotations

import os
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from gateway.response import FileBody
from gateway.static import ranges
from gateway.static.ranges import MAX_RANGES, parse_range

JS = b"0123456789" * 100
SIZE = len(JS)
MTIME = 1_700_000_000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-99", [(0, 99)]),
        ("bytes=100-", [(100, 999)]),
        ("bytes=-500", [(500, 999)]),
        ("bytes=-2000", [(0, 999)]),
        ("bytes=990-2000", [(990, 999)]),
        ("bytes=0-0", [(0, 0)]),
        ("bytes=999-999", [(999, 999)]),
        ("BYTES = 0-9", [(0, 9)]),
        ("bytes=0-9, 20-29", [(0, 9), (20, 29)]),
        ("bytes=20-29,0-9", [(0, 9), (20, 29)]),  # sorted
        ("bytes=0-9,5-19", [(0, 19)]),  # overlapping: merged
        ("bytes=0-9,10-19", [(0, 19)]),  # adjacent: merged
        ("bytes=0-9,,20-29,", [(0, 9), (20, 29)]),  # empty list elements are allowed
        ("bytes=0-9,2000-", [(0, 9)]),  # the unsatisfiable one is dropped
        ("bytes=0-99999999999999999999999999999", [(0, 999)]),
        ("bytes=1000-", []),
        ("bytes=1000-2000", []),
        ("bytes=-0", []),
        ("bytes=1000-,2000-", []),
        ("bytes=abc", None),
        ("bytes=5-1", None),
        ("items=0-9", None),
        ("bytes=", None),
        ("bytes=-", None),
        ("bytes 0-9", None),
        ("bytes=0-9;x", None),
        ("bytes=1-2-3", None),
        ("bytes=+1-2", None),
        ("bytes=0x10-20", None),
        ("bytes=0-,0-", None),  # more bytes than the file: overlap abuse
        ("bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES + 1)), None),
    ],
)
def test_parse_range(value: str, expected: list[tuple[int, int]] | None) -> None:
    assert parse_range(value, SIZE) == expected


def test_parse_range_empty_file() -> None:
    assert parse_range("bytes=0-", 0) is None
    assert parse_range("bytes=-5", 0) is None


def test_parse_range_max_ranges_allowed() -> None:
    value = "bytes=" + ",".join(f"{2 * i}-{2 * i}" for i in range(MAX_RANGES))
    assert parse_range(value, SIZE) == [(2 * i, 2 * i) for i in range(MAX_RANGES)]


def get(client: Any, tree: Path, headers: dict[str, str], path: str = "/app.js", **kw: Any) -> Any:
    return client.ok(client.mount(tree, **kw), path, headers)


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, 999),
        ("bytes=-500", 500, 999),
        ("bytes=0-0", 0, 0),
    ],
)
def test_single_range(tree: Path, client: Any, value: str, start: int, end: int) -> None:
    response = get(client, tree, {"range": value})
    assert response.status == 206
    assert response.get_header("content-range") == f"bytes {start}-{end}/{SIZE}"
    assert isinstance(response.body, FileBody)
    assert (response.body.offset, response.body.length) == (start, end - start + 1)
    assert client.body(response) == JS[start : end + 1]
    assert response.get_header("content-type") == "text/javascript; charset=utf-8"
    assert response.get_header("etag") is not None


def parse_multipart(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    delimiter = b"--" + boundary.encode()
    assert body.startswith(delimiter + b"\r\n")
    closing = b"\r\n" + delimiter + b"--\r\n"
    assert body.endswith(closing)
    inner = body[len(delimiter) + 2 : -len(closing)]
    parts = []
    for raw in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, _, data = raw.partition(b"\r\n\r\n")
        fields = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n"))
        parts.append((fields, data))
    return parts


def test_multiple_ranges(tree: Path, client: Any) -> None:
    response = get(client, tree, {"range": "bytes=500-509, 0-9, -5"})
    assert response.status == 206
    ctype = response.get_header("content-type")
    assert ctype.startswith("multipart/byteranges; boundary=")
    assert response.get_header("content-range") is None
    assert isinstance(response.body, bytes)
    parts = parse_multipart(response.body, ctype.split("boundary=", 1)[1])
    assert [fields["content-range"] for fields, _ in parts] == [
        f"bytes 0-9/{SIZE}",
        f"bytes 500-509/{SIZE}",
        f"bytes 995-999/{SIZE}",
    ]
    assert [data for _, data in parts] == [JS[0:10], JS[500:510], JS[995:]]
    assert all(f["content-type"] == "text/javascript; charset=utf-8" for f, _ in parts)


def test_boundary_is_random(tree: Path, client: Any) -> None:
    mount = client.mount(tree)
    first = client.ok(mount, "/app.js", {"range": "bytes=0-1,5-6"}).get_header("content-type")
    second = client.ok(mount, "/app.js", {"range": "bytes=0-1,5-6"}).get_header("content-type")
    assert first != second


def test_overlapping_ranges_coalesce_to_single(tree: Path, client: Any) -> None:
    response = get(client, tree, {"range": "bytes=0-9,5-19"})
    assert response.status == 206
    assert response.get_header("content-range") == f"bytes 0-19/{SIZE}"


@pytest.mark.parametrize("value", ["bytes=1000-", "bytes=-0", "bytes=5000-6000,7000-"])
def test_unsatisfiable(tree: Path, client: Any, value: str) -> None:
    response = get(client, tree, {"range": value})
    assert response.status == 416
    assert response.get_header("content-range") == f"bytes */{SIZE}"
    assert response.body == b""


@pytest.mark.parametrize("value", ["bytes=abc", "bytes=9-1", "lines=1-2", "bytes=0-,0-", ""])
def test_malformed_is_ignored(tree: Path, client: Any, value: str) -> None:
    response = get(client, tree, {"range": value})
    assert response.status == 200
    assert client.body(response) == JS


def test_too_many_ranges_is_ignored(tree: Path, client: Any) -> None:
    value = "bytes=" + ",".join(f"{3 * i}-{3 * i}" for i in range(MAX_RANGES + 1))
    assert get(client, tree, {"range": value}).status == 200


def test_multipart_memory_bound(tree: Path, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranges, "MAX_MULTIPART_BYTES", 15)
    response = get(client, tree, {"range": "bytes=0-9,20-29"})
    assert response.status == 200
    assert client.body(response) == JS


def test_two_range_headers_are_ignored(tree: Path, client: Any) -> None:
    mount = client.mount(tree)
    response = client.ok(mount, "/app.js", [("range", "bytes=0-1"), ("range", "bytes=2-3")])
    assert response.status == 200


def test_head_ignores_range(tree: Path, client: Any) -> None:
    response = client.ok(client.mount(tree), "/app.js", {"range": "bytes=0-9"}, method="HEAD")
    assert response.status == 200
    assert response.body.length == SIZE


def test_empty_file_ignores_range(tree: Path, client: Any) -> None:
    response = get(client, tree, {"range": "bytes=0-"}, path="/empty.txt")
    assert response.status == 200
    assert client.body(response) == b""


def test_if_range(tree: Path, client: Any) -> None:
    mount = client.mount(tree)
    etag = client.ok(mount, "/app.js").get_header("etag")
    last_modified = formatdate(MTIME, usegmt=True)
    cases = [
        (etag, 206),
        ('"stale"', 200),
        ("W/" + etag, 200),  # a weak tag never allows a range
        (last_modified, 206),
        (formatdate(MTIME + 1, usegmt=True), 200),
        (formatdate(MTIME - 1, usegmt=True), 200),
        ("garbage", 200),
    ]
    for if_range, expected in cases:
        response = client.ok(mount, "/app.js", {"range": "bytes=0-9", "if-range": if_range})
        assert response.status == expected, if_range
        if expected == 200:
            assert client.body(response) == JS


def test_conditions_before_range(tree: Path, client: Any) -> None:
    mount = client.mount(tree)
    etag = client.ok(mount, "/app.js").get_header("etag")
    assert client.ok(mount, "/app.js", {"range": "bytes=0-9", "if-none-match": etag}).status == 304
    assert client.ok(mount, "/app.js", {"range": "bytes=0-9", "if-match": '"x"'}).status == 412


def test_range_over_precompressed_bytes(tree: Path, client: Any) -> None:
    mount = client.mount(tree, precompressed=["br"])
    response = client.ok(mount, "/app.js", {"range": "bytes=0-3", "accept-encoding": "br"})
    assert response.status == 206
    assert response.get_header("content-encoding") == "br"
    assert response.get_header("content-range") == "bytes 0-3/20"
    assert client.body(response) == b"BRBR"


def test_multipart_file_shrank(tree: Path, client: Any) -> None:
    # Truncate between open and the pread of the parts: whole-file 200, which the server
    # sends short and then closes; never parts that lie about what they hold.
    mount = client.mount(tree)
    real_pread = os.pread

    def shrinking_pread(fd: int, n: int, offset: int) -> bytes:
        os.truncate(tree / "app.js", 5)
        return real_pread(fd, n, offset)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranges.os, "pread", shrinking_pread)
        response = client.ok(mount, "/app.js", {"range": "bytes=0-9,20-29"})
    assert response.status == 200
    assert isinstance(response.body, FileBody) and response.body.length == SIZE
