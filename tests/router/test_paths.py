"""split_path and join_path: decoding after splitting, dot-segments, merged slashes, and
every malformed input a client can send."""

from __future__ import annotations

import pytest

from gateway.errors import HTTPError
from gateway.router.paths import decode_segment, join_path, split_path


@pytest.mark.parametrize(
    ("raw", "segments"),
    [
        ("/", ("",)),
        ("/a", ("a",)),
        ("/a/", ("a", "")),
        ("/a/b/c", ("a", "b", "c")),
        # dot-segments, RFC 3986 §5.2.4
        ("/a/./b/../c", ("a", "c")),
        ("/../x", ("x",)),
        ("/..", ("",)),
        ("/.", ("",)),
        ("/a/..", ("",)),
        ("/a/../", ("",)),
        ("/a/b/..", ("a", "")),
        ("/a/.", ("a", "")),
        ("/a/./", ("a", "")),
        ("/a/../../../b", ("b",)),
        ("/.well-known/x", (".well-known", "x")),
        ("/a/...", ("a", "...")),
        ("/a/.b/c.", ("a", ".b", "c.")),
        # decoded dots are dots; a doubly encoded one is literal text
        ("/a/%2e%2e/b", ("b",)),
        ("/a/%2E/b", ("a", "b")),
        ("/a/.%2e", ("",)),
        ("/a/%252e%252e/b", ("a", "%2e%2e", "b")),
        # %2F stays inside its segment, and so cannot make a dot-segment either
        ("/a%2Fb/c", ("a/b", "c")),
        ("/files/%2F", ("files", "/")),
        ("/a/..%2F..%2Fetc", ("a", "../../etc")),
        ("/a/%2e%2e%2f", ("a", "../")),
        # merged slashes (nginx merge_slashes), trailing one kept
        ("//", ("",)),
        ("//a", ("a",)),
        ("/a//b", ("a", "b")),
        ("/a///b//", ("a", "b", "")),
        ("/a/%2F/b", ("a", "/", "b")),
        # decoding
        ("/caf%C3%A9", ("café",)),
        ("/caf%c3%a9", ("café",)),
        ("/a%20b", ("a b",)),
        ("/a+b", ("a+b",)),
        ("/%25", ("%",)),
        ("/%3F%23", ("?#",)),
        # raw UTF-8 bytes in the request line reach us as latin-1 characters
        ("/caf\xc3\xa9", ("café",)),
    ],
)
def test_split_path(raw: str, segments: tuple[str, ...]) -> None:
    assert split_path(raw) == segments


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("", "path '' must start with '/'"),
        ("a/b", "path 'a/b' must start with '/'"),
        ("*", "path '*' must start with '/'"),
        ("/a%zz", "malformed percent escape '%zz': use '%' and two hex digits"),
        ("/a%4", "malformed percent escape '%4': use '%' and two hex digits"),
        ("/a%", "malformed percent escape '%': use '%' and two hex digits"),
        ("/a%4/b", "malformed percent escape '%4': use '%' and two hex digits"),
        ("/%+1", "malformed percent escape '%+1': use '%' and two hex digits"),
        ("/a/%00", "path segment '%00' holds a nul byte, which no path may contain"),
        ("/a\x00b", "path segment 'a\\x00b' holds a nul byte, which no path may contain"),
        ("/x/%ff", "path segment '%ff' is not utf-8 once percent-decoded"),
        ("/%C3", "path segment '%C3' is not utf-8 once percent-decoded"),
        ("/%ED%A0%80", "path segment '%ED%A0%80' is not utf-8 once percent-decoded"),
        ("/\xff", "path segment '\xff' is not utf-8 once percent-decoded"),
        ("/\u20ac", "path segment '\u20ac' is not utf-8 once percent-decoded"),
    ],
)
def test_split_path_rejects(raw: str, detail: str) -> None:
    with pytest.raises(HTTPError) as caught:
        split_path(raw)
    assert caught.value.status == 400
    assert caught.value.detail == detail


def test_fast_path_returns_the_plain_split() -> None:
    assert split_path("/api/v1/users/42") == ("api", "v1", "users", "42")


def test_decode_segment_for_people_takes_unicode() -> None:
    assert decode_segment("café") == "café"
    assert decode_segment("caf%C3%A9") == "café"
    assert decode_segment("caf%C3%A9", "latin-1") == "café"


@pytest.mark.parametrize(
    ("segments", "path"),
    [
        ((), "/"),
        (("",), "/"),
        (("a",), "/a"),
        (("a", ""), "/a/"),
        (("a/b", "c"), "/a%2Fb/c"),
        (("café",), "/caf%C3%A9"),
        (("a b", "%"), "/a%20b/%25"),
        (("?#",), "/%3F%23"),
        (("a:b@c", "!$&'()*+,;="), "/a:b@c/!$&'()*+,;="),
        (("~x_y-z.",), "/~x_y-z."),
        # empty middle segments are merged, so a location never starts with '//'
        (("", "evil.example"), "/evil.example"),
        (("a", "", "b", ""), "/a/b/"),
    ],
)
def test_join_path(segments: tuple[str, ...], path: str) -> None:
    assert join_path(segments) == path


@pytest.mark.parametrize(
    "segments",
    [("",), ("a", ""), ("a/b", "c d"), ("café", "%2e", "?"), ("..%2F", "x")],
)
def test_join_then_split_round_trips(segments: tuple[str, ...]) -> None:
    assert split_path(join_path(segments)) == segments
