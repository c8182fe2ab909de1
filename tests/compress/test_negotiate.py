"""Accept-Encoding negotiation and the compressible-type policy."""

from __future__ import annotations

import pytest

from gateway.compress import Policy, negotiate, parse_accept_encoding

ALL = ("zstd", "br", "gzip")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),  # no header: identity (curl, scripts)
        ("", None),
        ("gzip", "gzip"),
        ("gzip, br", "br"),  # equal q: the server's preference
        ("gzip, deflate, br, zstd", "zstd"),
        ("br;q=0.5, gzip", "gzip"),  # the client's q first
        ("zstd;q=0, br;q=0, gzip", "gzip"),
        ("*", "zstd"),
        ("*;q=0.5, br;q=0", "zstd"),
        ("gzip;q=0, *;q=0", None),
        ("identity", None),
        ("gzip;q=0.5, identity", None),  # a listed identity that outweighs every coding
        ("gzip, identity;q=0", "gzip"),
        ("x-gzip", "gzip"),
        ("GZIP;Q=0.7", "gzip"),
        ("gzip;q=2, br;q=nan, zstd;q=x", None),  # bad q-values drop their element
        ("compress, deflate", None),
        (" , ;q=1, gzip ;q=0.1", "gzip"),
    ],
)
def test_negotiate(header: str | None, expected: str | None) -> None:
    assert negotiate(header, ALL) == expected


def test_offered_order_is_the_servers_preference() -> None:
    assert negotiate("gzip, br, zstd", ("gzip", "br")) == "gzip"
    assert negotiate("br", ("gzip",)) is None


def test_first_of_a_repeated_name_wins() -> None:
    assert parse_accept_encoding("gzip;q=0, gzip") == {"gzip": 0.0}


def test_only_installed_codings_are_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.compress import codecs

    monkeypatch.setattr(codecs, "_brotli", None)
    monkeypatch.setattr(codecs, "_zstd", None)
    assert codecs.installed() == ("gzip",)
    assert Policy().choose("zstd, br, gzip") == "gzip"  # gzip needs no extra
    with pytest.raises(ValueError, match="pip install brotli"):
        codecs.compress_body("br", b"x")


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html; charset=utf-8", True),
        ("TEXT/CSS", True),
        ("text/event-stream", True),
        ("application/json", True),
        ("application/problem+json", True),
        ("application/ld+json; charset=utf-8", True),
        ("application/javascript", True),
        ("image/svg+xml", True),
        ("application/atom+xml", True),
        ("application/wasm", True),
        ("image/png", False),
        ("application/octet-stream", False),
        ("application/zip", False),
        ("video/mp4", False),
        ("", False),
        (None, False),
    ],
)
def test_compressible_types(content_type: str | None, expected: bool) -> None:
    assert Policy().compressible(content_type) is expected


def test_policy_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown content coding 'deflate'"):
        Policy(codings=("deflate",))
    with pytest.raises(ValueError, match="min_size -1 is negative"):
        Policy(min_size=-1)
    assert Policy(codings=("gzip", "br")).choose("br, gzip") == "gzip"
    assert Policy(enabled=False).choose("gzip") is None
    assert not Policy(types=("application/json",)).compressible("text/html")
