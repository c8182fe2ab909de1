"""The header policy as tables: what reaches the upstream and what reaches the client, for
trusted and untrusted peers, upgrades, Host rules and the route's header rules."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.http.events import NEED_DATA, PAUSED, ResponseHead
from gateway.http.headers import Headers
from gateway.http.response import ResponseParser
from gateway.proxy.headers import (
    Client,
    client_fields,
    is_trusted,
    request_fields,
    requested_upgrade,
    response_fields,
    strip_hop_by_hop,
    upstream_fields,
    upstream_head,
)
from gateway.proxy.spec import ProxySpec, ServerAddress
from gateway.proxy.wire import request_head
from tests.http.response_vectors import VALID, Valid

SERVER = ServerAddress("10.0.0.5", 9001)
PLAIN = ProxySpec(upstream="api")
ALICE = Client("203.0.113.7")
VIA_LB = Client("10.1.1.1", "https", trusted=True)


@pytest.mark.parametrize(
    "fields, keep_upgrade, expected",
    [
        (
            [("a", "1"), ("connection", "keep-alive"), ("keep-alive", "timeout=5")],
            False,
            [("a", "1")],
        ),
        ([("connection", "x-secret, close"), ("x-secret", "s"), ("b", "2")], False, [("b", "2")]),
        ([("connection", " X-Secret "), ("x-secret", "s")], False, []),
        ([("te", "trailers"), ("trailer", "x"), ("transfer-encoding", "chunked")], False, []),
        (
            [
                ("proxy-authorization", "basic x"),
                ("proxy-connection", "k"),
                ("proxy", "http://evil"),
            ],
            False,
            [],
        ),
        ([("upgrade", "websocket"), ("connection", "upgrade")], False, []),
        ([("upgrade", "websocket"), ("connection", "upgrade")], True, [("upgrade", "websocket")]),
        (
            [("content-length", "5"), ("cookie", "a=1")],
            False,
            [("content-length", "5"), ("cookie", "a=1")],
        ),
    ],
)
def test_strip_hop_by_hop(
    fields: list[tuple[str, str]], keep_upgrade: bool, expected: list[tuple[str, str]]
) -> None:
    assert strip_hop_by_hop(fields, keep_upgrade) == expected


def test_untrusted_client_values_are_replaced() -> None:
    fields = [
        ("host", "example.com"),
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "bank.example"),
        ("forwarded", "for=1.2.3.4"),
        ("accept", "*/*"),
    ]
    assert request_fields(fields, ALICE, PLAIN, SERVER) == [
        ("host", "example.com"),
        ("accept", "*/*"),
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "example.com"),
        ("forwarded", "for=203.0.113.7;host=example.com;proto=http"),
        ("via", "1.1 gateway"),
    ]


def test_trusted_proxy_values_are_extended() -> None:
    fields = [
        ("host", "internal:8000"),
        ("x-forwarded-for", "198.51.100.1, 10.9.9.9"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "www.example.com"),
        ("forwarded", 'for=198.51.100.1;proto=https;host="www.example.com"'),
        ("via", "1.1 edge"),
    ]
    assert request_fields(fields, VIA_LB, PLAIN, SERVER) == [
        ("host", "internal:8000"),
        ("x-forwarded-for", "198.51.100.1, 10.9.9.9, 10.1.1.1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "www.example.com"),
        (
            "forwarded",
            'for=198.51.100.1;proto=https;host="www.example.com", for=10.1.1.1;host="internal:8000";proto=https',
        ),
        ("via", "1.1 edge, 1.1 gateway"),
    ]


def test_ipv6_and_unix_clients_in_forwarded() -> None:
    got = dict(request_fields([("host", "h")], Client("2001:db8::1"), PLAIN, SERVER))
    assert got["forwarded"] == 'for="[2001:db8::1]";host=h;proto=http'
    assert got["x-forwarded-for"] == "2001:db8::1"
    unix = dict(request_fields([("host", "h")], Client(""), PLAIN, SERVER))
    assert unix["forwarded"] == "for=unknown;host=h;proto=http"
    assert "x-forwarded-for" not in unix


@pytest.mark.parametrize(
    "client_host, rule, server, expected",
    [
        ("example.com", None, SERVER, "example.com"),
        (None, None, SERVER, "10.0.0.5:9001"),
        ("example.com", "{upstream}", SERVER, "10.0.0.5:9001"),
        ("example.com", "{upstream}", ServerAddress("::1", 80), "[::1]:80"),
        ("example.com", "{upstream}", ServerAddress(path="/run/a.sock"), "localhost"),
        ("example.com", "api.internal", SERVER, "api.internal"),
    ],
)
def test_host(
    client_host: str | None, rule: str | None, server: ServerAddress, expected: str
) -> None:
    fields = [("host", client_host)] if client_host else []
    got = request_fields(fields, ALICE, ProxySpec(upstream="a", host=rule), server)
    assert got[0] == ("host", expected)
    assert [n for n, _ in got].count("host") == 1


def test_framing_and_expect_are_not_copied() -> None:
    fields = [("host", "h"), ("content-length", "5"), ("expect", "100-continue"), ("a", "1")]
    got = request_fields(fields, ALICE, PLAIN, SERVER)
    assert [n for n, _ in got if n in ("content-length", "expect", "a")] == ["a"]


def test_route_rules_remove_then_set() -> None:
    rules = ProxySpec(
        upstream="a",
        remove_headers=("cookie", "x-forwarded-host"),
        headers=(("X-Api-Key", "k"), ("accept", "json")),
    )
    got = request_fields(
        [("host", "h"), ("cookie", "s=1"), ("accept", "*/*")], ALICE, rules, SERVER
    )
    names = [n for n, _ in got]
    assert "cookie" not in names and "x-forwarded-host" not in names
    assert got[-2:] == [("x-api-key", "k"), ("accept", "json")]
    assert names.count("accept") == 1


def test_upgrade_request_is_passed_only_when_allowed() -> None:
    asked = [
        ("host", "h"),
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-key", "k"),
    ]
    assert requested_upgrade(asked, ("websocket",)) == "websocket"
    assert requested_upgrade(asked, ()) is None
    assert (
        requested_upgrade([("upgrade", "websocket")], ("websocket",)) is None
    )  # not in Connection
    assert (
        requested_upgrade([("connection", "upgrade"), ("upgrade", "h2c")], ("websocket",)) is None
    )
    got = request_fields(asked, ALICE, PLAIN, SERVER, upgrade="websocket")
    assert got[-2:] == [("connection", "upgrade"), ("upgrade", "websocket")]
    assert ("sec-websocket-key", "k") in got
    plain = request_fields(asked, ALICE, PLAIN, SERVER)
    assert not any(n in ("connection", "upgrade") for n, _ in plain)


def test_response_fields() -> None:
    upstream = [
        ("content-type", "text/plain"),
        ("content-length", "5"),
        ("connection", "keep-alive, x-internal"),
        ("x-internal", "1"),
        ("keep-alive", "timeout=5"),
        ("server", "werkzeug"),
        ("transfer-encoding", "chunked"),
    ]
    rules = ProxySpec(
        upstream="a",
        remove_response_headers=("server",),
        response_headers=(("x-frame-options", "DENY"),),
    )
    assert response_fields(upstream, rules, upgraded=False) == [
        ("content-type", "text/plain"),
        ("content-length", "5"),
        ("x-frame-options", "DENY"),
    ]
    switched = [("upgrade", "websocket"), ("connection", "Upgrade"), ("sec-websocket-accept", "a")]
    assert response_fields(switched, PLAIN, upgraded=True) == [
        ("upgrade", "websocket"),
        ("sec-websocket-accept", "a"),
        ("connection", "upgrade"),
    ]


NETS = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))


@pytest.mark.parametrize(
    "ip, expected",
    [
        ("10.2.3.4", True),
        ("11.0.0.1", False),
        ("::1", True),
        ("::ffff:10.0.0.9", True),
        ("", False),
        ("fe80::1%eth0", False),
        ("junk", False),
    ],
)
def test_is_trusted(ip: str, expected: bool) -> None:
    assert is_trusted(ip, NETS) is expected
    assert is_trusted(ip, ()) is False


@pytest.mark.parametrize(
    "fields",
    [
        [("host", "example.com"), ("accept", "*/*"), ("user-agent", "t")],
        [("accept", "*/*")],  # no Host (HTTP/1.0)
        [("host", "h"), ("x-forwarded-for", "6.6.6.6"), ("forwarded", "for=evil"), ("te", "x")],
        [("host", "h"), ("proxy-authorization", "x"), ("proxy", "http://evil"), ("expect", "1")],
        [("host", "h"), ("connection", "x-secret"), ("x-secret", "s"), ("via", "1.0 lb")],
        [("host", "h"), ("connection", "upgrade"), ("upgrade", "websocket")],
        [("host", "h b"), ("content-length", "5"), ("a", "1"), ("a", "2")],
    ],
)
@pytest.mark.parametrize("client", [ALICE, VIA_LB, Client("2001:db8::1"), Client("")])
@pytest.mark.parametrize(
    "rules",
    [
        PLAIN,
        ProxySpec(
            upstream="api", host="{upstream}", headers=(("X-A", "1"),), remove_headers=("accept",)
        ),
    ],
)
def test_the_one_pass_request_fields_are_request_fields(
    fields: list[tuple[str, str]], client: Client, rules: ProxySpec
) -> None:
    upgrade = requested_upgrade(fields, ("websocket",))
    expected = request_fields(fields, client, rules, SERVER, upgrade)
    assert upstream_fields(Headers(fields), client, rules, SERVER, upgrade) == expected


@pytest.mark.parametrize(
    "fields",
    [
        [("host", "example.com"), ("accept", "*/*"), ("user-agent", "t")],
        [("accept", "*/*")],  # no Host (HTTP/1.0)
        [("host", "h"), ("x-forwarded-for", "6.6.6.6"), ("forwarded", "for=evil"), ("te", "x")],
        [("host", "h"), ("proxy-authorization", "x"), ("proxy", "http://evil"), ("expect", "1")],
        [("host", "h"), ("connection", "x-secret"), ("x-secret", "s"), ("via", "1.0 lb")],
        [("host", "h b"), ("content-length", "5"), ("a", "1"), ("a", "2")],
        [("host", "h"), ("keep-alive", "1"), ("proxy-x", "1"), ("transfer-encoding", "x")],
    ],
)
@pytest.mark.parametrize(
    "client", [ALICE, VIA_LB, Client("2001:db8::1"), Client(""), Client("1.2.3.4", "https")]
)
@pytest.mark.parametrize(
    "rules",
    [
        PLAIN,
        ProxySpec(upstream="api", host="{upstream}"),
        ProxySpec(upstream="api", host="fixed.example"),
        ProxySpec(upstream="api", headers=(("X-A", "1"),), remove_headers=("accept",)),
    ],
)
def test_the_one_join_request_head_is_the_general_one(
    fields: list[tuple[str, str]], client: Client, rules: ProxySpec
) -> None:
    """upstream_head (the common request's whole head at once, forwarding fields kept per
    client and Host) gives the bytes of request_head over request_fields, or None."""
    for _ in range(2):  # the second time from its kept forwarding fields
        head = upstream_head("GET", "/a?b", Headers(fields), client, rules, SERVER)
        expected = request_head("GET", "/a?b", request_fields(fields, client, rules, SERVER))
        if head is not None:
            assert head == expected
    involved = any(n in ("connection", "via") for n, _ in fields)
    plain = not client.trusted and not rules.headers and not involved
    assert (head is not None) is plain


@pytest.mark.parametrize("vector", VALID, ids=[v.name for v in VALID])
@pytest.mark.parametrize(
    "rules",
    [
        PLAIN,
        ProxySpec(upstream="a", remove_response_headers=("server", "content-length")),
        ProxySpec(upstream="a", response_headers=(("Content-Length", "7"), ("X-A", "1"))),
    ],
)
def test_client_fields_are_response_fields(vector: Valid, rules: ProxySpec) -> None:
    """client_fields (what whole_response writes) against response_fields and the length
    Responder.start_response would read from them, for every final head of the vectors."""
    parser = ResponseParser(**vector.limits)
    parser.expect(vector.method)
    parser.feed(vector.raw)
    heads = []
    while (event := parser.next_event()) not in (NEED_DATA, PAUSED):
        if isinstance(event, ResponseHead) and event.status >= 200:
            heads.append(event)
    for head in heads:
        for _ in range(2):  # the second time from its cache
            fields, length = client_fields(head, rules)
            expected = response_fields(head.headers.items(), rules, upgraded=False)
            assert list(fields) == expected
            assert length == next((int(v) for n, v in expected if n == "content-length"), None)
