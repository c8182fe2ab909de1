"""CorsPolicy: config checks with exact messages, origin matching, preflight answers and
refusals (with their log lines), and decorating actual responses (Vary merged, never doubled)."""

from __future__ import annotations

import logging
from types import MappingProxyType
from typing import Any

import pytest

from gateway.config.schema import CorsSpec, Where
from gateway.cors import CorsPolicy, merge_vary, normalise_origin
from gateway.errors import ConfigError
from gateway.http.headers import Headers
from gateway.response import Response

WHERE = Where(
    file="gateway.toml",
    key="cors.app",
    line=3,
    key_lines=MappingProxyType({"allow_origins": 4, "allow_credentials": 6}),
)
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
SPA = "http://localhost:5173"


def policy(**kwargs: Any) -> CorsPolicy:
    return CorsPolicy.from_spec(CorsSpec("app", where=WHERE, **kwargs))


def config_errors(**kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        policy(**kwargs)
    return [str(issue) for issue in info.value.issues]


def request(origin: str | None = None, method: str | None = None, **more: str) -> Headers:
    items = [("Origin", origin)] if origin is not None else []
    if method is not None:
        items.append(("Access-Control-Request-Method", method))
    items += [(name.replace("_", "-"), value) for name, value in more.items()]
    return Headers(items)


def preflight(p: CorsPolicy, origin: str, method: str, **more: str) -> Response:
    response = p.preflight("OPTIONS", request(origin, method, **more))
    assert response is not None
    return response


def cors_headers(response: Response) -> list[tuple[str, str]]:
    return [(n, v) for n, v in response.headers if n.startswith("access-control-") or n == "vary"]


# --- origins: normalising and matching ---------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("https://example.com", "https://example.com"),
        ("HTTPS://Example.COM", "https://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("http://localhost:5173", "http://localhost:5173"),
        ("https://*.Example.com", "https://*.example.com"),
        ("https://*.example.com:8443", "https://*.example.com:8443"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[0:0:0:0:0:0:0:1]:8000", "http://[::1]:8000"),
        ("null", "null"),
        ("NULL", "null"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ],
)
def test_origins_are_normalised_as_browsers_send_them(written: str, normalised: str) -> None:
    assert normalise_origin(written) == normalised


@pytest.mark.parametrize(
    ("allowed", "origin", "matches"),
    [
        ("https://app.example.com", "https://app.example.com", True),
        ("https://app.example.com", "https://example.com", False),
        ("https://app.example.com", "http://app.example.com", False),
        ("https://app.example.com", "https://app.example.com:8443", False),
        ("https://*.example.com", "https://a.example.com", True),
        ("https://*.example.com", "https://a.b.example.com", True),
        ("https://*.example.com", "https://xn--bcher-kva.example.com", True),
        ("https://*.example.com", "https://example.com", False),
        ("https://*.example.com", "https://.example.com", False),
        ("https://*.example.com", "https://evil-example.com", False),
        ("https://*.example.com", "https://evilexample.com", False),
        ("https://*.example.com", "https://example.com.evil.net", False),
        ("https://*.example.com", "https://a.example.com.evil.net", False),
        ("https://*.example.com", "https://a.example.com.", False),
        ("https://*.example.com", "http://a.example.com", False),
        ("https://*.example.com", "https://a.example.com:8443", False),
        ("https://*.example.com", "https://a.example.com:443", False),
        ("https://*.example.com", "https://a.example.com/", False),
        ("https://*.example.com", "https://a.example.com@evil.net", False),
        ("https://*.example.com", "https://evil.net#.example.com", False),
        ("https://*.example.com", "https://a.exampleXcom", False),
        ("https://*.example.com:8443", "https://a.example.com:8443", True),
        ("https://*.example.com:8443", "https://a.example.com", False),
        ("https://*.example.com:8443", "https://a.example.com:84430", False),
        ("http://localhost:5173", "http://localhost:5173", True),
        ("http://localhost:5173", "http://localhost:5174", False),
        ("http://localhost:5173", "http://localhost", False),
        ("null", "null", True),
        ("https://*.example.com", "null", False),
        ("https://example.com", "null", False),
        ("*", "https://anything.test", True),
        ("*", "null", True),
    ],
)
def test_origin_matching(allowed: str, origin: str, matches: bool) -> None:
    assert policy(allow_origins=(allowed,)).allows_origin(origin) is matches


def test_several_wildcards_and_exact_origins_in_one_policy() -> None:
    p = policy(allow_origins=("https://*.a.test", "http://*.b.test:8080", "https://c.test"))
    assert p.allows_origin("https://x.a.test")
    assert p.allows_origin("http://x.b.test:8080")
    assert p.allows_origin("https://c.test")
    assert not p.allows_origin("https://x.b.test:8080")
    assert not p.allows_origin("https://x.c.test")


# --- config errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "message"),
    [
        ("https://example.com/", "remove the path '/'"),
        ("https://example.com/app", "remove the path '/app'"),
        ("https://example.com?x=1", "remove the query '?x=1'"),
        ("https://example.com#top", "remove the fragment '#top'"),
        ("https://user:pw@example.com", "remove the userinfo 'user:pw@'"),
        ("example.com", "write it as scheme://host[:port], as in 'https://example.com'"),
        ("ftp://example.com", "the scheme must be http or https, not 'ftp'"),
        ("chrome-extension://abc", "the scheme must be http or https, not 'chrome-extension'"),
        ("https://", "the host is missing"),
        ("https://:8443", "the host is missing"),
        ("https://example.com:", "the port must be a number from 1 to 65535, not ''"),
        ("https://example.com:80a", "the port must be a number from 1 to 65535, not '80a'"),
        ("https://example.com:0", "the port must be a number from 1 to 65535, not '0'"),
        ("https://example.com:65536", "the port must be a number from 1 to 65535, not '65536'"),
        (
            "https://*example.com",
            "'*' may only be the whole leftmost label, as in 'https://*.example.com'",
        ),
        (
            "https://a.*.com",
            "'*' may only be the whole leftmost label, as in 'https://*.example.com'",
        ),
        (
            "https://*.*.com",
            "'*' may only be the whole leftmost label, as in 'https://*.example.com'",
        ),
        ("https://*", "'*' may only be the whole leftmost label, as in 'https://*.example.com'"),
        ("https://*.0.1", "'*' cannot stand for part of an IP address"),
        ("https://exa mple.com", "'exa mple.com' is not a host name"),
        ("https://example..com", "'example..com' is not a host name"),
        ("https://example.com.", "'example.com.' is not a host name"),
        ("https://-a.com", "'-a.com' is not a host name"),
        ("https://1.2.3", "'1.2.3' is not an IPv4 address"),
        (
            "https://bücher.example",
            "write the host 'bücher.example' in ASCII, as punycode ('xn--...')",
        ),
        ("http://[::1", "close the IPv6 address with ']'"),
        ("http://[::g]", "'[::g]' is not an IPv6 address"),
        ("http://[::1]x", "remove 'x' after the host"),
    ],
)
def test_malformed_origins_are_config_errors(origin: str, message: str) -> None:
    assert config_errors(allow_origins=(origin,)) == [
        f"gateway.toml:4: cors.app.allow_origins: {origin!r} is not an origin: {message}"
    ]


def test_star_origin_with_credentials_is_a_config_error() -> None:
    assert config_errors(allow_origins=("*",), allow_credentials=True) == [
        "gateway.toml:4: cors.app.allow_origins: '*' cannot be used with allow_credentials = "
        "true: list the origins instead"
    ]


def test_star_expose_headers_with_credentials_is_a_config_error() -> None:
    errors = config_errors(allow_origins=(SPA,), expose_headers=("*",), allow_credentials=True)
    assert errors == [
        "gateway.toml:3: cors.app.expose_headers: '*' cannot be used with allow_credentials = "
        "true: list the headers instead"
    ]


def test_every_mistake_is_reported_at_once() -> None:
    errors = config_errors(
        allow_origins=("*", "https://example.com/", "https://a.*.com"),
        allow_methods=("GET", "GE T"),
        allow_headers=("x-ok", "x:bad"),
        expose_headers=("",),
        allow_credentials=True,
        max_age=-1.0,
    )
    assert errors == [
        "gateway.toml:4: cors.app.allow_origins: '*' cannot be used with allow_credentials = "
        "true: list the origins instead",
        "gateway.toml:4: cors.app.allow_origins: 'https://example.com/' is not an origin: "
        "remove the path '/'",
        "gateway.toml:4: cors.app.allow_origins: 'https://a.*.com' is not an origin: "
        "'*' may only be the whole leftmost label, as in 'https://*.example.com'",
        "gateway.toml:3: cors.app.allow_methods: 'GE T' is not a method: use letters, digits "
        "and '-'",
        "gateway.toml:3: cors.app.allow_headers: 'x:bad' is not a header name: use letters, "
        "digits and '-'",
        "gateway.toml:3: cors.app.expose_headers: '' is not a header name: use letters, digits "
        "and '-'",
        "gateway.toml:3: cors.app.max_age: -1.0 is negative: use 0 (no caching) or more",
    ]


def test_star_is_accepted_where_it_means_something() -> None:
    policy(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",), expose_headers=("*",))
    policy(allow_origins=(SPA,), allow_methods=("*",), allow_headers=("*",), allow_credentials=True)


# --- preflight ---------------------------------------------------------------------------


def test_not_a_preflight_gives_none() -> None:
    p = policy(allow_origins=(SPA,))
    assert p.preflight("GET", request(SPA, "GET")) is None
    assert p.preflight("OPTIONS", request(SPA)) is None  # plain OPTIONS with an Origin
    assert p.preflight("OPTIONS", request(None, "GET")) is None
    assert p.preflight("OPTIONS", Headers()) is None


def test_allowed_preflight_answers_204_with_every_header() -> None:
    p = policy(
        allow_origins=(SPA, "https://*.example.com"),
        allow_methods=("get", "post", "DELETE"),
        allow_headers=("Content-Type", "authorization"),
        expose_headers=("X-Request-Id",),
        allow_credentials=True,
        max_age=600.0,
    )
    response = preflight(
        p,
        "https://a.example.com",
        "DELETE",
        access_control_request_headers="Authorization, content-type",
    )
    assert response.status == 204
    assert response.body == b""
    assert response.headers == [
        ("access-control-allow-origin", "https://a.example.com"),
        ("access-control-allow-methods", "GET, POST, DELETE"),
        ("access-control-allow-headers", "authorization, content-type"),
        ("access-control-max-age", "600"),
        ("access-control-allow-credentials", "true"),
        ("vary", PREFLIGHT_VARY),
    ]


def test_preflight_without_request_headers_is_still_a_preflight() -> None:
    response = preflight(policy(allow_origins=(SPA,)), SPA, "POST")
    assert response.status == 204
    assert response.headers == [
        ("access-control-allow-origin", SPA),
        ("access-control-allow-methods", "GET, HEAD, POST"),
        ("vary", PREFLIGHT_VARY),
    ]


def test_empty_request_headers_value_asks_for_nothing() -> None:
    response = preflight(
        policy(allow_origins=(SPA,)), SPA, "GET", access_control_request_headers=""
    )
    assert response.status == 204
    assert not response.has_header("access-control-allow-headers")


def test_requested_headers_split_over_several_fields_and_deduplicated() -> None:
    p = policy(allow_origins=(SPA,), allow_headers=("x-a", "x-b"))
    headers = request(SPA, "GET")
    headers = Headers(
        [
            *headers.items(),
            ("access-control-request-headers", "X-A, x-b"),
            ("access-control-request-headers", " x-a ,,"),
        ]
    )
    response = p.preflight("OPTIONS", headers)
    assert response is not None
    assert response.get_header("access-control-allow-headers") == "x-a, x-b"


def test_max_age_zero_is_sent_and_fractions_are_dropped() -> None:
    assert (
        preflight(policy(allow_origins=(SPA,), max_age=0.0), SPA, "GET").get_header(
            "access-control-max-age"
        )
        == "0"
    )
    assert (
        preflight(policy(allow_origins=(SPA,), max_age=90.9), SPA, "GET").get_header(
            "access-control-max-age"
        )
        == "90"
    )


@pytest.mark.parametrize(
    ("origin", "method", "request_headers", "part", "log_line"),
    [
        (
            "https://evil.com",
            "GET",
            None,
            "origin",
            "cors preflight refused: origin 'https://evil.com' not allowed by policy 'app'",
        ),
        (
            "null",
            "GET",
            None,
            "origin",
            "cors preflight refused: origin 'null' not allowed by policy 'app'",
        ),
        (
            SPA,
            "PUT",
            None,
            "method",
            "cors preflight refused: method 'PUT' not in allow_methods (GET, POST) of policy 'app'",
        ),
        (
            SPA,
            "post",  # methods are case-sensitive; browsers uppercase only the standard six
            None,
            "method",
            "cors preflight refused: method 'post' not in allow_methods (GET, POST) of policy "
            "'app'",
        ),
        (
            SPA,
            "POST",
            "content-type, X-Foo",
            "header",
            "cors preflight refused: header 'x-foo' not in allow_headers (content-type) of policy "
            "'app'",
        ),
    ],
)
def test_refused_preflight_is_a_bare_403_and_logs_why(
    caplog: pytest.LogCaptureFixture,
    origin: str,
    method: str,
    request_headers: str | None,
    part: str,
    log_line: str,
) -> None:
    p = policy(allow_origins=(SPA,), allow_methods=("GET", "POST"), allow_headers=("content-type",))
    more = {} if request_headers is None else {"access_control_request_headers": request_headers}
    with caplog.at_level(logging.INFO, logger="gateway.cors"):
        response = preflight(p, origin, method, **more)
    assert response.status == 403
    assert response.body == f"cors preflight refused: {part} not allowed\n".encode()
    assert cors_headers(response) == []
    assert response.headers == [("content-type", "text/plain; charset=utf-8")]
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("gateway.cors", logging.INFO, log_line)
    ]


def test_policy_without_methods_refuses_every_method(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.cors"):
        response = preflight(policy(allow_origins=(SPA,), allow_methods=()), SPA, "GET")
    assert response.status == 403
    assert caplog.messages == [
        "cors preflight refused: method 'GET' not in allow_methods (nothing) of policy 'app'"
    ]


@pytest.mark.parametrize("credentials", [False, True])
def test_star_headers_and_methods_reflect_the_request(credentials: bool) -> None:
    p = policy(
        allow_origins=(SPA,),
        allow_methods=("*",),
        allow_headers=("*",),
        allow_credentials=credentials,
    )
    response = preflight(p, SPA, "PURGE", access_control_request_headers="X-One, authorization")
    assert response.status == 204
    expected = [
        ("access-control-allow-origin", SPA),
        ("access-control-allow-methods", "PURGE"),
        ("access-control-allow-headers", "x-one, authorization"),
    ]
    if credentials:
        expected.append(("access-control-allow-credentials", "true"))
    assert response.headers == [*expected, ("vary", PREFLIGHT_VARY)]


def test_reflection_refuses_what_is_not_a_token() -> None:
    p = policy(allow_origins=(SPA,), allow_methods=("*",), allow_headers=("*",))
    assert preflight(p, SPA, "GE T").status == 403
    assert preflight(p, SPA, "GET", access_control_request_headers="x-a, x b").status == 403


def test_star_origin_preflight_answers_star() -> None:
    p = policy(allow_origins=("*",), allow_methods=("GET",))
    response = preflight(p, "https://anyone.test", "GET")
    assert response.headers == [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "GET"),
        ("vary", PREFLIGHT_VARY),
    ]
    assert preflight(p, "https://anyone.test", "DELETE").status == 403


def test_private_network_allowed_when_asked_and_permitted() -> None:
    p = policy(allow_origins=(SPA,), allow_private_network=True)
    response = preflight(p, SPA, "GET", access_control_request_private_network="true")
    assert response.headers == [
        ("access-control-allow-origin", SPA),
        ("access-control-allow-methods", "GET, HEAD, POST"),
        ("access-control-allow-private-network", "true"),
        ("vary", PREFLIGHT_VARY + ", Access-Control-Request-Private-Network"),
    ]


def test_private_network_header_only_when_asked() -> None:
    p = policy(allow_origins=(SPA,), allow_private_network=True)
    response = preflight(p, SPA, "GET")
    assert not response.has_header("access-control-allow-private-network")
    assert (
        response.get_header("vary") == PREFLIGHT_VARY + ", Access-Control-Request-Private-Network"
    )


def test_private_network_not_permitted_answers_without_it() -> None:
    # The browser then blocks the private-network request itself; the CORS part stands.
    response = preflight(
        policy(allow_origins=(SPA,)), SPA, "GET", access_control_request_private_network="true"
    )
    assert response.status == 204
    assert not response.has_header("access-control-allow-private-network")
    assert response.get_header("vary") == PREFLIGHT_VARY


# --- actual requests -------------------------------------------------------------------


def test_decorate_allowed_origin() -> None:
    p = policy(
        allow_origins=(SPA,), expose_headers=("X-Request-Id", "etag"), allow_credentials=True
    )
    response = Response.json({"ok": True})
    p.decorate(request(SPA), response)
    assert response.headers == [
        ("content-type", "application/json"),
        ("vary", "Origin"),
        ("access-control-allow-origin", SPA),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-request-id, etag"),
    ]


def test_decorate_wildcard_origin_echoes_it() -> None:
    response = Response(200)
    policy(allow_origins=("https://*.example.com",)).decorate(
        request("https://a.example.com"), response
    )
    assert cors_headers(response) == [
        ("vary", "Origin"),
        ("access-control-allow-origin", "https://a.example.com"),
    ]


@pytest.mark.parametrize("origin", [None, "https://evil.com", "null", "http://localhost:5174"])
def test_decorate_other_or_no_origin_adds_only_vary(origin: str | None) -> None:
    p = policy(allow_origins=(SPA,), expose_headers=("x-a",), allow_credentials=True)
    response = Response(404)
    p.decorate(request(origin), response)
    assert response.headers == [("vary", "Origin")]


@pytest.mark.parametrize("origin", [None, "https://anyone.test"])
def test_decorate_star_policy_is_the_same_for_everyone_and_has_no_vary(origin: str | None) -> None:
    p = policy(allow_origins=("*",), expose_headers=("*",))
    response = Response(200)
    p.decorate(request(origin), response)
    assert response.headers == [
        ("access-control-allow-origin", "*"),
        ("access-control-expose-headers", "*"),
    ]


def test_decorate_merges_into_an_existing_vary() -> None:
    response = Response(200, b"x", [("vary", "accept-encoding")])
    policy(allow_origins=(SPA,)).decorate(request(SPA), response)
    assert response.headers == [
        ("vary", "accept-encoding, Origin"),
        ("access-control-allow-origin", SPA),
    ]


def test_decorate_twice_adds_nothing_more() -> None:
    p = policy(allow_origins=(SPA,), allow_credentials=True)
    response = Response(500, b"", [("Vary", "Accept-Encoding")])
    p.decorate(request(SPA), response)
    once = list(response.headers)
    p.decorate(request(SPA), response)
    assert (
        response.headers
        == once
        == [
            ("Vary", "Accept-Encoding, Origin"),
            ("access-control-allow-origin", SPA),
            ("access-control-allow-credentials", "true"),
        ]
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([], [("vary", "Origin")]),
        ([("vary", "accept-encoding")], [("vary", "accept-encoding, Origin")]),
        ([("Vary", "origin")], [("Vary", "origin")]),
        ([("vary", "Accept-Encoding, ORIGIN")], [("vary", "Accept-Encoding, ORIGIN")]),
        ([("vary", "*")], [("vary", "*")]),
        ([("vary", "")], [("vary", "Origin")]),
        (
            [("vary", "accept-encoding"), ("x-a", "1"), ("VARY", "cookie, Accept-Encoding")],
            [("vary", "accept-encoding, cookie, Origin"), ("x-a", "1")],
        ),
    ],
)
def test_merge_vary(before: list[tuple[str, str]], after: list[tuple[str, str]]) -> None:
    headers = list(before)
    merge_vary(headers, "Origin")
    assert headers == after
    assert sum(name.lower() == "vary" for name, _ in headers) == 1


def test_policy_name_is_public() -> None:
    assert policy(allow_origins=(SPA,)).name == "app"
