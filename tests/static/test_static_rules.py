"""Cache rules: glob semantics ("*" in one folder, "**" across), first match wins, defaults."""

from __future__ import annotations

import pytest

from gateway.config.schema import CacheRuleSpec
from gateway.static.rules import CacheRules, glob_to_regex


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.html", "index.html", True),
        ("*.html", "docs/deep/page.html", True),  # no slash: the name at any depth
        ("*.html", "index.htmlx", False),
        ("assets/**", "assets/app.js", True),
        ("assets/**", "assets/img/icons/a.png", True),  # ** crosses folders
        ("assets/**", "other/assets/app.js", False),  # a slash anchors at the dir
        ("assets/*", "assets/app.js", True),
        ("assets/*", "assets/img/logo.png", False),  # * does not cross a folder
        ("/assets/*.css", "assets/site.css", True),  # a leading slash is dropped
        ("**/*.js", "app.js", True),
        ("**/*.js", "a/b/app.js", True),
        ("a/**/b.txt", "a/b.txt", True),
        ("a/**/b.txt", "a/x/y/b.txt", True),
        ("img/?.png", "img/a.png", True),
        ("img/?.png", "img/ab.png", False),
        ("img/[a-c].png", "img/b.png", True),
        ("img/[!a-c].png", "img/b.png", False),
        ("img/[!a-c].png", "img/d.png", True),
        ("x[/]y", "x/y", False),  # a class never matches a separator
        ("a+b(1).txt", "a+b(1).txt", True),  # regex characters are literal
        ("a[b", "a[b", True),  # an unclosed class is a literal "["
    ],
)
def test_glob(pattern: str, path: str, matches: bool) -> None:
    assert (glob_to_regex(pattern).fullmatch(path) is not None) is matches


def test_first_match_wins() -> None:
    rules = CacheRules(
        [
            CacheRuleSpec("assets/**", "public, max-age=31536000, immutable"),
            CacheRuleSpec("*.css", "public, max-age=60"),
            CacheRuleSpec("**", "public, max-age=5"),
        ]
    )
    css = "text/css; charset=utf-8"
    assert rules.control("assets/css/site.css", css) == "public, max-age=31536000, immutable"
    assert rules.control("top.css", css) == "public, max-age=60"
    assert rules.control("index.html", "text/html; charset=utf-8") == "public, max-age=5"


def test_defaults() -> None:
    rules = CacheRules([CacheRuleSpec("assets/**", "immutable")])
    assert rules.control("docs/index.html", "text/html; charset=utf-8") == "no-cache"
    assert rules.control("logo.png", "image/png") is None
