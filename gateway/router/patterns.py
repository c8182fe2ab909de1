"""Route patterns ("/users/{id:int}", "/files/{rest:path}") and host patterns parsed into
immutable values. A Pattern's parts line up one-to-one with split_path's segments: static
parts are decoded the same way, a trailing slash is a final Static(""), a CatchAll is last."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from gateway.errors import GatewayError
from gateway.router.paths import decode_segment

Converter = Literal["str", "int", "uuid"]
_CONVERTERS: dict[str, Converter] = {"str": "str", "int": "int", "uuid": "uuid"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# One DNS-style label of a host name (lowercase): routes' hosts and CORS origins use it.
HOST_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")
_IPV6 = re.compile(r"\[[0-9a-f:.]+\]")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")  # in a redirect target: "{name}"


class PatternError(GatewayError, ValueError):
    """A route or host pattern that cannot be used; the message says what would be right."""


@dataclass(frozen=True, slots=True)
class Static:
    """A segment that must equal `value` (already percent-decoded)."""

    value: str


@dataclass(frozen=True, slots=True)
class Param:
    """One whole segment, converted by `converter` into params[name]."""

    name: str
    converter: Converter


@dataclass(frozen=True, slots=True)
class CatchAll:
    """One or more remaining segments (a single "" included), joined with '/' in params[name]."""

    name: str


Part = Static | Param | CatchAll


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed route path. `text` is what was written; `param_names` in order of appearance."""

    text: str
    parts: tuple[Part, ...]
    param_names: tuple[str, ...]
    trailing_slash: bool


@dataclass(frozen=True, slots=True)
class Template:
    """A redirect target ("/new/{id}", "https://example.com/{rest}") parsed once: literal
    text and the route parameters filled in between (werkzeug's Rule.build is the model)."""

    text: str
    parts: tuple[str, ...]  # literal, name, literal, name, ..., literal (odd length)

    @property
    def names(self) -> tuple[str, ...]:
        return self.parts[1::2]

    def build(self, params: Mapping[str, Any]) -> str:
        """The URL with each {name} replaced by params[name], percent-encoded ("/" kept:
        a catch-all's value is a path); a name params lacks gives ""."""
        parts = self.parts
        if len(parts) == 1:
            return parts[0]
        out = [parts[0]]
        for i in range(1, len(parts), 2):
            out.append(quote(str(params.get(parts[i], "")), safe="/"))
            out.append(parts[i + 1])
        return "".join(out)


def parse_template(text: str) -> Template:
    """Split a redirect target at its {name} placeholders (checking that each names a
    parameter of the route is the config's job: it knows both)."""
    return Template(text, tuple(_PLACEHOLDER.split(text)))


def parse_pattern(text: str) -> Pattern:
    """Parse a route path; PatternError says what is wrong with it and what would be right."""
    if not text.startswith("/"):
        raise PatternError(f"pattern {text!r} must start with '/'")
    if "?" in text or "#" in text:
        raise PatternError(f"pattern {text!r} holds '?' or '#': routes match the path only")
    raws = text[1:].split("/")
    parts: list[Part] = []
    names: list[str] = []
    for i, raw in enumerate(raws):
        part = _parse_segment(raw, text)
        if isinstance(part, Static):
            _check_static(part, raw, text, is_last=i == len(raws) - 1)
        else:
            if part.name in names:
                raise PatternError(f"duplicate parameter {part.name!r}: give each its own name")
            names.append(part.name)
            if isinstance(part, CatchAll) and i != len(raws) - 1:
                raise PatternError(f"catch-all {raw!r} must be the last segment")
        parts.append(part)
    return Pattern(text, tuple(parts), tuple(names), text.endswith("/"))


def _parse_segment(raw: str, text: str) -> Part:
    if raw.startswith("{") and raw.endswith("}") and raw.count("{") == raw.count("}") == 1:
        name, colon, converter = raw[1:-1].partition(":")
        return _param(name, converter if colon else "str", raw)
    if raw.startswith(":"):
        return _param(raw[1:], "str", raw)  # Express spelling of "{name}"
    if "{" in raw or "}" in raw:
        raise PatternError(
            f"partial-segment parameter {raw!r} in {text!r} is not supported:"
            " a parameter must be a whole segment, like '/a/{id}/b'"
        )
    try:
        return Static(decode_segment(raw))
    except ValueError as exc:
        raise PatternError(f"pattern {text!r}: {exc}") from None


def _param(name: str, converter: str, raw: str) -> Param | CatchAll:
    if not _NAME.fullmatch(name):
        raise PatternError(
            f"invalid parameter name {name!r} in {raw!r}:"
            " use letters, digits and '_', not starting with a digit"
        )
    if converter == "path":
        return CatchAll(name)
    known = _CONVERTERS.get(converter)
    if known is not None:
        return Param(name, known)
    raise PatternError(f"unknown converter {converter!r} in {raw!r}: use str, int, uuid or path")


def _check_static(part: Static, raw: str, text: str, *, is_last: bool) -> None:
    # Requests are normalised by split_path before matching, so these could never match.
    if part.value == "" and not is_last:
        raise PatternError(
            f"empty segment in pattern {text!r}: requests have '//' merged to '/',"
            " so it could never match"
        )
    if part.value in (".", ".."):
        raise PatternError(
            f"dot-segment {raw!r} in pattern {text!r}: requests have dot-segments resolved,"
            " so it could never match"
        )


def parse_host(text: str) -> str:
    """Normalise a route's host: lowercase, no trailing dot. "api.example.com" matches
    that name only; "*.example.com" matches one or more labels before ".example.com"
    ("a.example.com", "a.b.example.com") but not "example.com" itself."""
    host = text.lower().removesuffix(".")
    if _IPV6.fullmatch(host):
        return host
    name = host.removeprefix("*.")
    if ":" in host and host.rpartition(":")[2].isdigit():
        raise PatternError(
            f"host {text!r} must not include a port: routes match the name whatever the port"
            " (an IPv6 address goes in brackets, like '[::1]')"
        )
    if "*" in name:
        raise PatternError(
            f"wildcard host {text!r} is not supported: put '*.' before a domain,"
            " like '*.example.com'"
        )
    if not all(HOST_LABEL.fullmatch(label) for label in name.split(".")):
        raise PatternError(
            f"invalid host {text!r}: use letters, digits, '-' and '.', like 'api.example.com'"
        )
    return host
