"""Accept-Encoding and Accept parsing for precompressed files and the SPA fallback."""

from __future__ import annotations

import pytest

from gateway.static.negotiate import accepted_codings, accepts_html, parse_weights

OFFERED = ("br", "gzip", "zstd")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ()),
        ("", ()),
        ("gzip, deflate, br", ("br", "gzip")),  # our order, not the client's
        ("br;q=0.1, gzip;q=1", ("br", "gzip")),  # any q > 0 counts
        ("br;q=0, gzip", ("gzip",)),
        ("BR, GZIP", ("br", "gzip")),
        ("x-gzip", ("gzip",)),
        ("*", OFFERED),
        ("*;q=0", ()),
        ("br;q=0, *", ("gzip", "zstd")),
        ("gzip, *;q=0", ("gzip",)),
        ("identity", ()),
        ("identity, *;q=0", ()),
        ("gzip;q=bogus, br", ("br",)),  # a malformed q drops that element only
        ("gzip;q=2", ()),
        ("gzip;q=nan", ()),
        ("gzip ; Q=0.5 , zstd", ("gzip", "zstd")),
        (",,, br ,", ("br",)),
    ],
)
def test_accepted_codings(header: str | None, expected: tuple[str, ...]) -> None:
    assert accepted_codings(header, OFFERED) == expected


def test_parse_weights() -> None:
    assert parse_weights("gzip, br;q=0.5, *;q=0") == {"gzip": 1.0, "br": 0.5, "*": 0.0}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("TEXT/HTML", True),
        ("text/html;level=1;q=0.5", True),
        ("text/html;q=0", False),
        ("*/*", False),
        ("text/*", False),
        ("application/json", False),
        ("", False),
        (None, False),
    ],
)
def test_accepts_html(accept: str | None, expected: bool) -> None:
    assert accepts_html(accept) is expected
