"""Config values that go into a response head are checked at load for what the head cannot
carry (the writer refuses CR, LF, NUL and characters beyond latin-1, RFC 9110 §5.5 every
control but HTAB): before, such a value loaded and every request to its route got a 500.
A redirect target is a URL: its non-ASCII characters are percent-encoded (UTF-8), as a
browser does, and its controls refused."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.app import build_app
from gateway.config.load import ConfigLoadError, parse_config
from gateway.testing import Transport


def issues(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigLoadError) as caught:
        parse_config(text, tmp_path / "gateway.toml", {})
    return [f"{i.key}: {i.message}" for i in caught.value.issues]


@pytest.mark.parametrize(
    "line, key, shown",
    [
        (
            'redirect = { to = "/b\\r\\nx-evil: 1" }',
            "route[0].redirect.to",
            "'/b\\r\\nx-evil: 1' contains CR or LF",
        ),
        (
            'redirect = { to = "/b\\u0000" }',
            "route[0].redirect.to",
            "'/b\\x00' contains a control character ('\\x00')",
        ),
        (
            'respond = {}\nheaders = { x-a = "a\\u0000b" }',
            "route[0].headers.x-a",
            "'a\\x00b' contains a control character ('\\x00')",
        ),
        (
            'respond = {}\nheaders = { x-a = "\u20ac5" }',
            "route[0].headers.x-a",
            "'€5' contains '€', which a header cannot carry",
        ),
        (
            'respond = { content_type = "text/plain\\u0007" }',
            "route[0].respond.content_type",
            "contains a control character ('\\x07')",
        ),
    ],
)
def test_what_a_head_cannot_carry_is_refused_at_load(tmp_path, line, key, shown) -> None:
    found = issues(tmp_path, f'[[route]]\npath = "/a"\n{line}\n')
    assert len(found) == 1 and found[0].startswith(f"{key}: ") and shown in found[0], found


def test_a_tab_and_latin_1_stay_allowed(tmp_path: Path) -> None:
    text = '[[route]]\npath = "/a"\nrespond = {}\nheaders = { x-a = "a\\tb", x-b = "caf\u00e9" }\n'
    route = parse_config(text, tmp_path / "gateway.toml", {}).routes[0]
    assert route.headers == (("x-a", "a\tb"), ("x-b", "café"))


def test_a_non_ascii_redirect_target_is_sent_percent_encoded(tmp_path: Path) -> None:
    text = '[[route]]\npath = "/a/{name}"\nredirect = { to = "/caf\u00e9/\u20ac/{name}" }\n'
    app = build_app(parse_config(text, tmp_path / "gateway.toml", {}))
    with httpx.Client(transport=Transport(app), base_url="http://test") as client:
        reply = client.get("/a/x", follow_redirects=False)
    assert reply.status_code == 308
    assert reply.headers["location"] == "/caf%C3%A9/%E2%82%AC/x"
