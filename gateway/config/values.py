"""Converters for gateway.toml values: each takes a raw TOML value and returns the typed value
a *Spec holds, or raises Invalid saying what would be right. Converters that need settings
(ranges, choices, a base directory) are built by small factory functions."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import quote

from gateway.config.fields import Convert, Invalid, close_match, expected, quoted, suggest
from gateway.config.locate import format_key
from gateway.config.units import parse_duration, parse_size

T = TypeVar("T")
S = TypeVar("S", bound=str)

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: methods, header names
_HOST = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_LISTEN_HELP = "write e.g. '127.0.0.1:8000' or '[::1]:8000'"


def integer(low: int | None = None, high: int | None = None) -> Convert[int]:
    def convert(value: object) -> int:
        # bool is an int in Python, but `workers = true` is a mistake in TOML.
        if isinstance(value, bool) or not isinstance(value, int):
            raise expected("an integer", value)
        if low is not None and high is not None and not low <= value <= high:
            raise Invalid(f"must be from {low} to {high}, got {value}")
        if low is not None and value < low:
            raise Invalid(f"must be at least {low}, got {value}")
        return value

    return convert


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise expected("true or false", value)
    return value


def string(value: object) -> str:
    if not isinstance(value, str):
        raise expected("a string", value)
    if not value:
        raise Invalid("must not be empty")
    return value


def line_text(value: object) -> str:
    """A string that goes into a response head: CR and LF would split it, and the writer
    refuses what a field value cannot hold (RFC 9110 §5.5: controls but HTAB, and beyond
    latin-1), so such a value would make every answer that carries it a 500."""
    text = string(value)
    if "\r" in text or "\n" in text:
        raise Invalid(f"{text!r} contains CR or LF, which cannot go in a header")
    for char in text:
        if (char < " " and char != "\t") or char == "\x7f":
            raise Invalid(
                f"{text!r} contains a control character ({char!r}), which cannot go in a header"
            )
        if char > "\xff":
            raise Invalid(f"{text!r} contains {char!r}, which a header cannot carry: use ASCII")
    return text


def url_text(value: object) -> str:
    """A URL for a response head (a redirect's Location): non-ASCII characters are
    percent-encoded as UTF-8, as a browser does; controls are refused as in line_text."""
    text = string(value)
    if text.isascii():
        return line_text(text)
    return line_text("".join(char if char.isascii() else quote(char) for char in text))


def size(low: int = 0) -> Convert[int]:
    def convert(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise expected("a size (a number of bytes or a string like '10MB')", value)
        try:
            amount = parse_size(value)
        except ValueError as error:
            raise Invalid(str(error)) from None
        if amount < low:
            raise Invalid(f"must be at least {low} bytes, got {value!r}")
        return amount

    return convert


def duration(positive: bool = False) -> Convert[float]:
    def convert(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise expected("a duration (a number of seconds or a string like '30s')", value)
        try:
            seconds = parse_duration(value)
        except ValueError as error:
            raise Invalid(str(error)) from None
        if positive and seconds <= 0:
            raise Invalid(f"must be more than 0 seconds, got {value!r}")
        return seconds

    return convert


def choice(options: Sequence[S]) -> Convert[S]:
    """One of `options`; typed as their Literal when `options` is declared that way."""

    def convert(value: object) -> S:
        if not isinstance(value, str):
            raise expected(f"one of {quoted(options)}", value)
        for option in options:
            if option == value:
                return option
        raise Invalid(f"{value!r} is not one of {quoted(options)}{suggest(value, options)}")

    return convert


def each(values: object, convert: Convert[T], what: str = "a list of strings") -> list[T]:
    """Convert every element of a list, reporting every bad element, not just the first."""
    if not isinstance(values, list):
        raise expected(what, values)
    found, errors = [], []
    for index, value in enumerate(values):
        try:
            found.append(convert(value))
        except Invalid as error:
            errors.append(error.under((index,)))
    if errors:
        raise Invalid.merge(errors)
    return found


def strings(value: object) -> tuple[str, ...]:
    return tuple(each(value, string))


def unique(items: Sequence[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(items))


def one_of_each(options: Sequence[str]) -> Convert[tuple[str, ...]]:
    """A list whose elements come from `options` (precompressed encodings)."""
    pick = choice(options)
    return lambda value: unique(each(value, pick, f"a list of {quoted(options)}"))


def method(value: object) -> str:
    text = string(value)
    if not TOKEN.fullmatch(text):
        raise Invalid(f"{text!r} is not an HTTP method: write e.g. 'GET' or 'POST'")
    return text.upper()


def methods(value: object) -> tuple[str, ...]:
    found = unique(each(value, method, "a list of methods like ['GET', 'POST']"))
    if not found:
        raise Invalid("needs at least one method, e.g. ['GET']")
    return found


def header_name(value: object) -> str:
    text = string(value)
    if not TOKEN.fullmatch(text):
        raise Invalid(f"{text!r} is not a header name: write e.g. 'content-type'")
    return text


def wildcard_or(convert: Convert[tuple[str, ...]]) -> Convert[tuple[str, ...]]:
    """CORS lists also take the string "*" for any."""
    return lambda value: ("*",) if value == "*" else convert(value)


def header_names(value: object) -> tuple[str, ...]:
    return tuple(each(value, header_name))


def headers(value: object) -> tuple[tuple[str, str], ...]:
    """A table of header name -> value, in file order."""
    if not isinstance(value, dict):
        raise expected("a table of header names to values", value)
    found, errors = [], []
    for name, text in value.items():
        try:
            found.append((header_name(name), line_text(text)))
        except Invalid as error:
            errors.append(error.under((name,)))
    if errors:
        raise Invalid.merge(errors)
    return tuple(found)


def listen(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (address(value),)
    found = unique(each(value, address, "a string or a list of strings"))
    if not found:
        raise Invalid(f"needs at least one address: {_LISTEN_HELP}")
    return found


def address(value: object) -> str:
    """'host:port' or '[v6]:port', port 0..65535."""
    text = string(value)
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        try:
            good_host = isinstance(ipaddress.ip_address(host[1:-1]), ipaddress.IPv6Address)
        except ValueError:
            good_host = False
    else:
        good_host = bool(_HOST.fullmatch(host))
    if not colon or not good_host or not port.isascii() or not port.isdigit():
        raise Invalid(f"{text!r} is not host:port: {_LISTEN_HELP}")
    if int(port) > 65535:
        raise Invalid(f"{text!r} has port {int(port)}: ports go from 0 to 65535")
    return text


def cors_ref(names: Collection[str], allow_false: bool = True) -> Convert[str | Literal[False]]:
    """A [cors.NAME] policy name, or false (cors off) where `allow_false`."""

    def convert(value: object) -> str | Literal[False]:
        if value is False and allow_false:
            return False
        what = "a cors policy name or false" if allow_false else "a cors policy name"
        if not isinstance(value, str):
            raise expected(what, value)
        if value not in names:
            hint = suggest(value, names)
            raise Invalid(
                f"no cors policy named {value!r}{hint}; "
                f"define it as [{format_key(('cors', value))}]"
            )
        return value

    return convert


NAME_MAX = 255  # bytes in one file name: the limit of ext4, xfs, btrfs, apfs and ntfs


def shown(text: str) -> str:
    """repr(text), cut short when it is too long to read in one error line."""
    return repr(text) if len(text) <= 80 else f"{text[:40]!r}... ({len(text)} characters)"


def path_text(value: object) -> str:
    """A string that can name a file: no NUL (os.stat raises ValueError on one) and no part
    longer than a file name can be (os.stat raises OSError), so checks never see either."""
    text = string(value)
    if "\x00" in text:
        raise Invalid(f"{shown(text)} contains a NUL character, which a path cannot hold")
    if any(len(part.encode(errors="surrogatepass")) > NAME_MAX for part in text.split("/")):
        raise Invalid(
            f"{shown(text)} is too long for a file name: "
            f"each part of a path can be at most {NAME_MAX} bytes"
        )
    return text


def directory(base: Path, check: bool) -> Convert[Path]:
    """A directory resolved against `base`; must exist unless `check` is off (bad root)."""

    def convert(value: object) -> Path:
        text = path_text(value)
        path = (base / text).resolve()
        if check and not path.exists():
            hint = sibling_hint(text, path, want_dir=True)
            raise Invalid(f"directory {str(path)!r} does not exist{hint}")
        if check and not path.is_dir():
            raise Invalid(f"{str(path)!r} is not a directory")
        return path

    return convert


def file(base: Path, check: bool) -> Convert[Path]:
    def convert(value: object) -> Path:
        path = (base / path_text(value)).resolve()
        if check and not path.exists():
            raise Invalid(f"file {str(path)!r} does not exist")
        if check and not path.is_file():
            raise Invalid(f"{str(path)!r} is not a file")
        return path

    return convert


def sibling_hint(written: str, path: Path, want_dir: bool) -> str:
    """' (did you mean 'public'?)' when a folder (or file) beside the missing `path` has a
    close name; the suggestion is `written` with its last part swapped, as the user wrote it.
    Not used for files: '403.html' is not a typo of '404.html'."""
    try:
        siblings = [
            entry.name
            for entry in path.parent.iterdir()
            if entry.is_dir() == want_dir and not entry.name.startswith(".")
        ]
    except OSError:
        return ""
    close = close_match(path.name, siblings)
    if close is None:
        return ""
    head, slash, _ = written.rstrip("/").rpartition("/")
    return f" (did you mean {head + slash + close!r}?)"


def file_name(value: object) -> str:
    text = path_text(value)
    if "/" in text or "\\" in text or text in (".", ".."):
        raise Invalid(f"{text!r} is not a file name: write e.g. 'index.html'")
    return text


def inside(value: object) -> str:
    """A relative path that stays inside its directory (a mount's fallback)."""
    text = path_text(value)
    parts = Path(text).parts
    if Path(text).is_absolute() or ".." in parts or "\\" in text:
        raise Invalid(f"{text!r} is not a path inside the mount's dir: write e.g. 'index.html'")
    return text


def mime_types(value: object) -> dict[str, str]:
    """A table of ".ext" -> "type/subtype"."""
    if not isinstance(value, dict):
        raise expected('a table of extensions to types, like { ".md" = "text/markdown" }', value)
    errors = []
    for ext, kind in value.items():
        problem = None
        if not ext.startswith(".") or len(ext) < 2 or "/" in ext:
            problem = f"{ext!r} is not an extension: write e.g. '.md'"
        elif not isinstance(kind, str):
            problem = expected("a media type", kind).problems[0][1]
        elif "/" not in kind or "\r" in kind or "\n" in kind:
            problem = f"{kind!r} is not a media type: write e.g. 'text/markdown'"
        if problem:
            errors.append(Invalid(problem, (ext,)))
    if errors:
        raise Invalid.merge(errors)
    return dict(value)


def ops_path(value: object) -> str | None:
    """An operations endpoint path ("/__gateway/metrics"), or false for off."""
    if value is False:
        return None
    text = string(value)
    if not text.startswith("/") or any(c in text for c in "?#{} "):
        raise Invalid(f"{text!r} is not a path: write e.g. '/__gateway/metrics', or false for off")
    return text


def networks(value: object) -> tuple[str, ...]:
    """CIDRs for [server] metrics_allow."""
    from gateway.metrics.access import parse_networks

    found = each(value, string)
    try:
        parse_networks(found)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    return tuple(found)
