"""Naming and quoting config source: a file's display name (relative to the working directory
when under it) and a TOML syntax error as an issue with the source line and a caret under the
column. Shared by the loader and `include`, which reads more files the same way."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from gateway.config.locate import format_key
from gateway.errors import ConfigIssue

_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)$")
_TUPLE_KEY = re.compile(r"\((?:'[^']*', ?)*'[^']*',?\)")  # tomllib shows keys as ('a', 'b')


def syntax_issue(file: str, text: str, error: tomllib.TOMLDecodeError) -> ConfigIssue:
    """tomllib's message, lowercased like ours, with the source line and a caret under it."""
    message = _TUPLE_KEY.sub(
        lambda m: format_key(tuple(re.findall(r"'([^']*)'", m[0]))), str(error)
    )
    lines = text.split("\n")
    found = _POSITION.search(message)
    if found:
        line, column = int(found.group(1)), int(found.group(2))
    else:  # "(at end of document)": point just past the last line with text on it
        line = len(text.rstrip("\r\n").split("\n"))
        column = len(lines[line - 1].rstrip("\r")) + 1
    source = lines[line - 1].rstrip("\r") if line <= len(lines) else ""
    # Keep tabs before the column so the caret lines up however the terminal shows them.
    pad = "".join(char if char == "\t" else " " for char in source[: column - 1])
    snippet = f"\n    {source}\n    {pad}^" if source.strip() else ""
    return ConfigIssue(file, line, "", f"invalid toml: {message[:1].lower()}{message[1:]}{snippet}")


BOM = b"\xef\xbb\xbf"  # some Windows editors start UTF-8 files with it: read past it


def decode(data: bytes) -> str:
    """A config file's text: UTF-8, a leading BOM dropped. Raises UnicodeDecodeError."""
    return data.removeprefix(BOM).decode("utf-8")


def not_utf8(data: bytes, error: UnicodeDecodeError) -> tuple[int, str]:
    """(line, message) for bytes that are not UTF-8: where the first bad byte is, and
    what to do about it."""
    start = error.start + (len(BOM) if data.startswith(BOM) else 0)
    line = data.count(b"\n", 0, start) + 1
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    bad = data[start : start + 1]
    hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
    return line, (
        f"is not UTF-8 text: byte {bad!r} at column {column} ({error.reason}): "
        f"save the file as UTF-8{hint}"
    )


def display_name(path: Path) -> str:
    """The path as given; an absolute path under the working directory is shown relative."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            pass
    return str(path)
