"""Cache-Control per file: a mount's `cache` globs, compiled once to regexes we control (not
fnmatch, whose "*" crosses "/"). Paths are relative to the mount dir with "/" separators;
the first matching rule wins; with none, the mount's default if it has one (development:
"no-cache"), else HTML gets "no-cache" and anything else nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.config.schema import CacheRuleSpec

# HTML names the versioned assets; it must be revalidated or a deploy is invisible for hours.
HTML_DEFAULT = "no-cache"


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex for fullmatch over a relative path.

    "*" and "?" stay within one folder; "**/" is zero or more folders and "**" anywhere else
    anything at all; "[abc]" / "[!abc]" are classes over one character other than "/".
    A pattern without "/" matches the file name at any depth, as in .gitignore ("*.html");
    one with "/" is anchored at the mount dir ("assets/**"); a leading "/" is dropped."""
    pattern = pattern.lstrip("/")
    anchored = "/" in pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            piece, i = _one(pattern, i)
            out.append(piece)
    body = "".join(out)
    return re.compile(body if anchored else "(?:.*/)?" + body, re.DOTALL)


def _one(pattern: str, i: int) -> tuple[str, int]:
    char = pattern[i]
    if char == "*":
        return "[^/]*", i + 1
    if char == "?":
        return "[^/]", i + 1
    if char == "[":
        # "]" right after "[" or "[!" is a member, as in fnmatch; no closing "]": a literal "[".
        j = i + 1
        if j < len(pattern) and pattern[j] in "!^":
            j += 1
        if j < len(pattern) and pattern[j] == "]":
            j += 1
        close = pattern.find("]", j)
        if close != -1:
            members = pattern[i + 1 : close]
            negate = members[:1] in ("!", "^")
            members = members[1:] if negate else members
            # Keep ranges ("a-z") working; escape what Python's regex classes treat specially.
            members = re.sub(r"([\\\[&~|])", r"\\\1", members)
            return f"(?!/)[{'^' if negate else ''}{members}]", close + 1
    return re.escape(char), i + 1


class CacheRules:
    """`CacheRules(spec.cache).control("assets/app.js", "text/javascript")` -> the value of
    the first matching rule, or the default for the content type."""

    __slots__ = ("_rules",)

    def __init__(self, rules: Sequence[CacheRuleSpec]) -> None:
        self._rules = tuple((glob_to_regex(rule.match), rule.control) for rule in rules)

    def control(self, rel_path: str, content_type: str, default: str | None = None) -> str | None:
        for regex, value in self._rules:
            if regex.fullmatch(rel_path):
                return value
        if default is not None:
            return default
        return HTML_DEFAULT if content_type.startswith("text/html") else None
