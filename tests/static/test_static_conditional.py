"""Preconditions in RFC 9110 §13.2.2 order, through StaticMount.serve on a file with a known
mtime; and the validators themselves."""

from __future__ import annotations

import os
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from gateway.http.headers import Headers
from gateway.response import FileBody
from gateway.static.conditional import (
    Precondition,
    evaluate,
    make_etag,
    parse_http_date,
    range_applies,
)

MTIME = 1_700_000_000
LM = "Tue, 14 Nov 2023 22:13:20 GMT"
RFC850 = "Tuesday, 14-Nov-23 22:13:20 GMT"
ASCTIME = "Tue Nov 14 22:13:20 2023"


def date(seconds: int) -> str:
    return formatdate(seconds, usegmt=True)


@pytest.fixture
def etag(tree: Path) -> str:
    return make_etag(os.stat(tree / "about.txt"))


def status(client: Any, tree: Path, headers: list[tuple[str, str]], method: str = "GET") -> int:
    response = client.ok(client.mount(tree), "/about.txt", headers, method=method)
    return int(response.status)


# (headers, expected status)
MATRIX: list[tuple[list[tuple[str, str]], int]] = [
    ([], 200),
    ([("if-match", "E")], 200),
    ([("if-match", "*")], 200),
    ([("if-match", '"nope"')], 412),
    ([("if-match", "W/E")], 412),  # If-Match compares strongly
    ([("if-match", '"nope", E')], 200),
    ([("if-unmodified-since", LM)], 200),
    ([("if-unmodified-since", date(MTIME - 1))], 412),
    ([("if-unmodified-since", date(MTIME + 1))], 200),
    ([("if-unmodified-since", "yesterday")], 200),  # not a date: ignored
    ([("if-match", "E"), ("if-unmodified-since", date(MTIME - 1))], 200),  # IUS skipped
    ([("if-none-match", "E")], 304),
    ([("if-none-match", "W/E")], 304),  # If-None-Match compares weakly
    ([("if-none-match", "*")], 304),
    ([("if-none-match", '"nope"')], 200),
    ([("if-none-match", '"a", E, "b"')], 304),
    ([("if-none-match", '"a"'), ("if-none-match", "E")], 304),  # two lines, one list
    ([("if-none-match", '"nope"'), ("if-modified-since", LM)], 200),  # IMS skipped
    ([("if-modified-since", LM)], 304),
    ([("if-modified-since", RFC850)], 304),
    ([("if-modified-since", ASCTIME)], 304),
    ([("if-modified-since", date(MTIME + 100))], 304),
    ([("if-modified-since", date(MTIME - 1))], 200),
    ([("if-modified-since", "garbage")], 200),
    ([("if-modified-since", LM), ("if-modified-since", LM)], 200),  # two dates: ignored
    ([("if-match", '"nope"'), ("if-none-match", "E")], 412),  # 412 is decided first
    ([("if-unmodified-since", date(MTIME - 1)), ("if-none-match", "E")], 412),
    ([("if-match", "E"), ("if-none-match", "E")], 304),
]


@pytest.mark.parametrize(("headers", "expected"), MATRIX, ids=lambda v: repr(v))
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_matrix(
    tree: Path, client: Any, etag: str, headers: Any, expected: int, method: str
) -> None:
    # "E" in an If-Match / If-None-Match value stands for the file's ETag.
    real = [(n, v.replace("E", etag) if n.endswith("-match") else v) for n, v in headers]
    assert status(client, tree, real, method) == expected


def test_not_modified_response(tree: Path, client: Any, etag: str) -> None:
    mount = client.mount(tree, headers=[("x-frame-options", "DENY")])
    response = client.ok(
        mount, "/index.html", {"if-none-match": make_etag(os.stat(tree / "index.html"))}
    )
    assert response.status == 304
    assert response.body == b""  # the fd was closed, not handed on
    assert dict(response.headers) == {
        "last-modified": LM,
        "etag": make_etag(os.stat(tree / "index.html")),
        "cache-control": "no-cache",
    }


def test_not_modified_keeps_vary(tree: Path, client: Any) -> None:
    mount = client.mount(tree, precompressed=["br"])
    first = client.ok(mount, "/app.js", {"accept-encoding": "br"})
    tag = first.get_header("etag")
    again = client.ok(mount, "/app.js", {"accept-encoding": "br", "if-none-match": tag})
    assert again.status == 304
    assert again.get_header("vary") == "accept-encoding"
    # The identity representation has its own tag: the br one does not validate it.
    plain = client.ok(mount, "/app.js", {"if-none-match": tag})
    assert plain.status == 200


def test_precondition_failed_is_empty(tree: Path, client: Any) -> None:
    response = client.ok(client.mount(tree), "/about.txt", {"if-match": '"nope"'})
    assert response.status == 412
    assert response.body == b""
    assert not isinstance(response.body, FileBody)


def test_etag_shape(tree: Path) -> None:
    st = os.stat(tree / "about.txt")
    tag = make_etag(st)
    assert tag == f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'
    assert make_etag(st, "br") == tag[:-1] + '-br"'


def test_etag_changes_with_content(tree: Path, client: Any) -> None:
    mount = client.mount(tree)
    before = client.ok(mount, "/about.txt").get_header("etag")
    client.write(tree / "about.txt", "about them", MTIME)  # same mtime, new size
    after = client.ok(mount, "/about.txt").get_header("etag")
    assert before != after


def test_parse_http_date() -> None:
    assert parse_http_date(LM) == MTIME
    assert parse_http_date(RFC850) == MTIME
    assert parse_http_date(ASCTIME) == MTIME
    assert parse_http_date("not a date") is None
    assert parse_http_date("") is None


def test_evaluate_for_unsafe_method() -> None:
    # Not reachable through a mount (405 first), but the function follows the RFC anyway.
    headers = Headers([("if-none-match", '"a"')])
    assert evaluate(headers, "POST", '"a"', MTIME) is Precondition.FAILED
    assert (
        evaluate(Headers([("if-modified-since", LM)]), "POST", '"a"', MTIME) is Precondition.PROCEED
    )


def test_range_applies() -> None:
    assert range_applies(None, '"a"', MTIME)
    assert range_applies('"a"', '"a"', MTIME)
    assert not range_applies('"b"', '"a"', MTIME)
    assert not range_applies('W/"a"', '"a"', MTIME)
    assert range_applies(LM, '"a"', MTIME)
    assert not range_applies(date(MTIME + 1), '"a"', MTIME)
    assert not range_applies("garbage", '"a"', MTIME)
