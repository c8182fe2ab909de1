"""parse_pattern and parse_host: the parts each pattern becomes, and the exact message for
every pattern that cannot be used."""

from __future__ import annotations

import pytest

from gateway.router.patterns import (
    CatchAll,
    Param,
    Pattern,
    PatternError,
    Static,
    parse_host,
    parse_pattern,
)


@pytest.mark.parametrize(
    ("text", "parts", "names"),
    [
        ("/", (Static(""),), ()),
        ("/users", (Static("users"),), ()),
        ("/users/", (Static("users"), Static("")), ()),
        ("/users/{id}", (Static("users"), Param("id", "str")), ("id",)),
        ("/users/{id:str}", (Static("users"), Param("id", "str")), ("id",)),
        ("/users/:id", (Static("users"), Param("id", "str")), ("id",)),
        ("/users/{id:int}/", (Static("users"), Param("id", "int"), Static("")), ("id",)),
        ("/k/{key:uuid}", (Static("k"), Param("key", "uuid")), ("key",)),
        ("/files/{rest:path}", (Static("files"), CatchAll("rest")), ("rest",)),
        ("/{rest:path}", (CatchAll("rest"),), ("rest",)),
        (
            "/a/{x}/b/{_y2:int}/{z:path}",
            (Static("a"), Param("x", "str"), Static("b"), Param("_y2", "int"), CatchAll("z")),
            ("x", "_y2", "z"),
        ),
        # static segments are decoded like request segments
        ("/caf%C3%A9", (Static("café"),), ()),
        ("/café", (Static("café"),), ()),
        ("/a%2Fb", (Static("a/b"),), ()),
        ("/%7Bid%7D", (Static("{id}"),), ()),
        ("/.well-known/x", (Static(".well-known"), Static("x")), ()),
        ("/a:b", (Static("a:b"),), ()),
    ],
)
def test_parse_pattern(text: str, parts: tuple[object, ...], names: tuple[str, ...]) -> None:
    pattern = parse_pattern(text)
    assert pattern == Pattern(text, parts, names, text.endswith("/"))  # type: ignore[arg-type]


def test_trailing_slash_flag() -> None:
    assert parse_pattern("/a/").trailing_slash
    assert parse_pattern("/").trailing_slash
    assert not parse_pattern("/a").trailing_slash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("users", "pattern 'users' must start with '/'"),
        ("", "pattern '' must start with '/'"),
        ("/a?b=1", "pattern '/a?b=1' holds '?' or '#': routes match the path only"),
        ("/a#top", "pattern '/a#top' holds '?' or '#': routes match the path only"),
        ("/{id:foo}", "unknown converter 'foo' in '{id:foo}': use str, int, uuid or path"),
        ("/{id:}", "unknown converter '' in '{id:}': use str, int, uuid or path"),
        ("/{id:INT}", "unknown converter 'INT' in '{id:INT}': use str, int, uuid or path"),
        ("/files/{rest:path}/x", "catch-all '{rest:path}' must be the last segment"),
        ("/files/{rest:path}/", "catch-all '{rest:path}' must be the last segment"),
        ("/{id}/{id:int}", "duplicate parameter 'id': give each its own name"),
        ("/:id/{id:path}", "duplicate parameter 'id': give each its own name"),
        (
            "/{1x}",
            "invalid parameter name '1x' in '{1x}':"
            " use letters, digits and '_', not starting with a digit",
        ),
        (
            "/{}",
            "invalid parameter name '' in '{}':"
            " use letters, digits and '_', not starting with a digit",
        ),
        (
            "/:",
            "invalid parameter name '' in ':':"
            " use letters, digits and '_', not starting with a digit",
        ),
        (
            "/{a-b}",
            "invalid parameter name 'a-b' in '{a-b}':"
            " use letters, digits and '_', not starting with a digit",
        ),
        (
            "/a{id}b",
            "partial-segment parameter 'a{id}b' in '/a{id}b' is not supported:"
            " a parameter must be a whole segment, like '/a/{id}/b'",
        ),
        (
            "/{id}.json",
            "partial-segment parameter '{id}.json' in '/{id}.json' is not supported:"
            " a parameter must be a whole segment, like '/a/{id}/b'",
        ),
        (
            "/{{id}}",
            "partial-segment parameter '{{id}}' in '/{{id}}' is not supported:"
            " a parameter must be a whole segment, like '/a/{id}/b'",
        ),
        (
            "/a//b",
            "empty segment in pattern '/a//b': requests have '//' merged to '/',"
            " so it could never match",
        ),
        (
            "/a/../b",
            "dot-segment '..' in pattern '/a/../b': requests have dot-segments resolved,"
            " so it could never match",
        ),
        (
            "/a/%2e",
            "dot-segment '%2e' in pattern '/a/%2e': requests have dot-segments resolved,"
            " so it could never match",
        ),
        ("/a%zz", "pattern '/a%zz': malformed percent escape '%zz': use '%' and two hex digits"),
        ("/%ff", "pattern '/%ff': path segment '%ff' is not utf-8 once percent-decoded"),
        (
            "/a%00",
            "pattern '/a%00': path segment 'a%00' holds a nul byte, which no path may contain",
        ),
    ],
)
def test_pattern_errors(text: str, message: str) -> None:
    with pytest.raises(PatternError) as caught:
        parse_pattern(text)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("api.example.com", "api.example.com"),
        ("API.Example.COM", "api.example.com"),
        ("api.example.com.", "api.example.com"),
        ("*.example.com", "*.example.com"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "[::1]"),
        ("my_host-1.local", "my_host-1.local"),
    ],
)
def test_parse_host(text: str, host: str) -> None:
    assert parse_host(text) == host


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "example.com:8000",
            "host 'example.com:8000' must not include a port: routes match the name whatever"
            " the port (an IPv6 address goes in brackets, like '[::1]')",
        ),
        (
            "::1",
            "host '::1' must not include a port: routes match the name whatever"
            " the port (an IPv6 address goes in brackets, like '[::1]')",
        ),
        (
            "a.*.com",
            "wildcard host 'a.*.com' is not supported: put '*.' before a domain,"
            " like '*.example.com'",
        ),
        (
            "*",
            "wildcard host '*' is not supported: put '*.' before a domain, like '*.example.com'",
        ),
        (
            "*example.com",
            "wildcard host '*example.com' is not supported: put '*.' before a domain,"
            " like '*.example.com'",
        ),
        ("", "invalid host '': use letters, digits, '-' and '.', like 'api.example.com'"),
        (
            "a..b",
            "invalid host 'a..b': use letters, digits, '-' and '.', like 'api.example.com'",
        ),
        (
            "-a.com",
            "invalid host '-a.com': use letters, digits, '-' and '.', like 'api.example.com'",
        ),
        (
            "http://a.com",
            "invalid host 'http://a.com': use letters, digits, '-' and '.', like 'api.example.com'",
        ),
    ],
)
def test_host_errors(text: str, message: str) -> None:
    with pytest.raises(PatternError) as caught:
        parse_host(text)
    assert str(caught.value) == message
