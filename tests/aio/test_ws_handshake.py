"""The WebSocket opening handshake (RFC 6455 §4.2.1) on our headers: what is accepted, the
status and headers of each refusal, origin checks and subprotocol choice."""

from __future__ import annotations

import pytest

pytest.importorskip("wsproto", reason="websocket needs the websocket extra (wsproto)")

from gateway.errors import HTTPError
from gateway.http.headers import Headers
from gateway.websocket import check_handshake, origin_check

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example


def _headers(**fields: str) -> Headers:
    base = {
        "host": "example.com",
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": KEY,
        "sec-websocket-version": "13",
    }
    for name, value in fields.items():
        name = name.replace("_", "-")
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return Headers(list(base.items()))


def test_rfc_example_accept_token_and_101_head() -> None:
    hs = check_handshake("GET", "1.1", _headers())
    assert hs.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert hs.response_head() == (
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )


def test_tokens_are_case_insensitive_and_listed() -> None:
    hs = check_handshake(
        "GET", "1.1", _headers(upgrade="WebSocket", connection="keep-alive, UPGRADE")
    )
    assert hs.key == KEY


@pytest.mark.parametrize(
    ("method", "version", "fields", "status", "words"),
    [
        ("POST", "1.1", {}, 405, "GET, not 'POST'"),
        ("GET", "1.0", {}, 426, "HTTP/1.1"),
        ("GET", "1.1", {"upgrade": None}, 426, "Upgrade: websocket"),
        ("GET", "1.1", {"upgrade": "h2c"}, 426, "Upgrade: websocket"),
        ("GET", "1.1", {"connection": "keep-alive"}, 426, "Connection: Upgrade"),
        ("GET", "1.1", {"sec_websocket_version": "8"}, 426, "'8' is not supported: use 13"),
        ("GET", "1.1", {"sec_websocket_version": None}, 426, "None is not supported"),
        ("GET", "1.1", {"sec_websocket_key": None}, 400, "not 16 bytes"),
        ("GET", "1.1", {"sec_websocket_key": "c2hvcnQ="}, 400, "'c2hvcnQ='"),
        ("GET", "1.1", {"sec_websocket_key": "!!!!!!!!!!!!!!!!!!!!!!=="}, 400, "base64"),
    ],
)
def test_refusals(method: str, version: str, fields: dict, status: int, words: str) -> None:
    with pytest.raises(HTTPError) as info:
        check_handshake(method, version, _headers(**fields))
    assert info.value.status == status
    assert words in info.value.detail
    if status == 426:
        assert ("upgrade", "websocket") in info.value.headers
        assert ("sec-websocket-version", "13") in info.value.headers


def test_two_keys_are_refused() -> None:
    headers = Headers([*_headers().items(), ("sec-websocket-key", KEY)])
    with pytest.raises(HTTPError) as info:
        check_handshake("GET", "1.1", headers)
    assert info.value.status == 400


class Policy:
    def allows_origin(self, origin: str) -> bool:
        return origin == "https://app.example.com"


def test_origin_through_the_routes_policy() -> None:
    check = origin_check(Policy())
    hs = check_handshake("GET", "1.1", _headers(origin="https://app.example.com"), check)
    assert hs.origin == "https://app.example.com"
    with pytest.raises(HTTPError) as info:
        check_handshake("GET", "1.1", _headers(origin="https://evil.example"), check)
    assert info.value.status == 403 and "'https://evil.example'" in info.value.detail


def test_without_a_policy_only_same_origin_pages() -> None:
    check = origin_check(None, ["example.com:8000"])
    assert check("http://example.com:8000")
    assert not check("http://evil.example")
    assert not check("null")
    assert check(None)  # not a browser: no Origin to check


def test_subprotocols() -> None:
    hs = check_handshake("GET", "1.1", _headers(sec_websocket_protocol="chat.v2, chat.v1"))
    assert hs.subprotocols == ("chat.v2", "chat.v1")
    assert hs.choose_subprotocol(["chat.v1", "chat.v2"]) == "chat.v2"  # the client's order
    assert hs.choose_subprotocol(["mqtt"]) is None
    assert b"sec-websocket-protocol: chat.v1\r\n" in hs.response_head("chat.v1")
    with pytest.raises(ValueError, match="'mqtt' was not offered"):
        hs.response_head("mqtt")
