"""Line numbers for gateway.toml key paths, since tomllib gives values without positions.
A small scanner walks headers, keys, inline tables and arrays (skipping strings and comments)
and maps each key path, e.g. ("route", 2, "handler"), to the 1-based line where it starts.
It never raises: on text it cannot follow it stops and keeps what it found."""

from __future__ import annotations

import bisect
import contextlib
import re
import tomllib
from collections.abc import Mapping

KeyPart = str | int
KeyPath = tuple[KeyPart, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}\n#]")


def format_key(path: KeyPath) -> str:
    """Dotted display of a key path: ("route", 2, "headers", "x-a") -> "route[2].headers.x-a".
    Keys that are not bare TOML keys are quoted: ("mime", ".js") -> 'mime.".js"'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if _BARE_KEY.fullmatch(part) else _quote(part)
        out += f".{text}" if out else text
    return out


# TOML basic-string escapes, so a key with a newline or a NUL stays on its error's line.
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _quote(key: str) -> str:
    escaped = "".join(
        _ESCAPES.get(char) or (f"\\u{ord(char):04x}" if char < " " or char == "\x7f" else char)
        for char in key
    )
    return f'"{escaped}"'


class Locator:
    """Where each key path starts. `line` falls back to the nearest located ancestor."""

    def __init__(self, lines: Mapping[KeyPath, int], children: Mapping[KeyPath, dict[str, int]]):
        self._lines = lines
        self._children = children

    def line(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one; None if none does."""
        for end in range(len(path), 0, -1):
            found = self._lines.get(path[:end])
            if found is not None:
                return found
        return None

    def exact(self, path: KeyPath) -> int | None:
        """The line of `path` itself, without falling back to an ancestor."""
        return self._lines.get(path)

    def key_lines(self, path: KeyPath) -> dict[str, int]:
        """The line of each key set directly inside the table at `path`."""
        return dict(self._children.get(path, {}))


class Sources:
    """Which file each key path of a config comes from, when `include` merged several files
    into one: a merged path like ("route", 5) maps to ("route", 0) of routes/api.toml."""

    def __init__(self, file: str, locator: Locator) -> None:
        self.file = file
        self.locator = locator
        self._parts: dict[KeyPath, tuple[str, Locator, KeyPath]] = {}

    def add(self, merged: KeyPath, file: str, locator: Locator, local: KeyPath) -> None:
        """The table at `merged` is the one at `local` in `file`."""
        self._parts[merged] = (file, locator, local)

    def origin(self, path: KeyPath) -> tuple[str, Locator, KeyPath]:
        """(file, its locator, the path inside that file) for a merged key path."""
        for end in range(len(path), 0, -1):
            found = self._parts.get(path[:end])
            if found is not None:
                file, locator, local = found
                return file, locator, (*local, *path[end:])
        return self.file, self.locator, path


def locate(text: str) -> Locator:
    """Scan TOML source text into a Locator."""
    scanner = _Scanner(text)
    with contextlib.suppress(_Stop):  # keep every line found before the text stopped making sense
        scanner.document()
    return Locator(scanner.lines, scanner.children)


class _Stop(Exception):
    """The scanner met text it cannot follow (tomllib reports the real syntax error)."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines: dict[KeyPath, int] = {}
        self.children: dict[KeyPath, dict[str, int]] = {}
        self.arrays: dict[KeyPath, int] = {}  # array-of-tables path -> tables seen so far

    # -- recording ---------------------------------------------------------------------------

    def line_at(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)

    def record(self, path: KeyPath, line: int, implicit: bool = False) -> None:
        # Implicit tables (the "server" in `server.listen = ...`) take the line they are
        # first mentioned on; an explicit header or key always wins.
        if implicit and path in self.lines:
            return
        self.lines[path] = line
        if path and isinstance(path[-1], str):
            self.children.setdefault(path[:-1], {}).setdefault(path[-1], line)

    # -- statements --------------------------------------------------------------------------

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            line = self.line_at(self.pos)
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                table = self.header(self.keys(), line, array=True)
                self.expect("]]")
            elif self.text.startswith("[", self.pos):
                self.pos += 1
                table = self.header(self.keys(), line, array=False)
                self.expect("]")
            else:
                self.key_value(table)
            self.end_of_line()

    def header(self, keys: list[str], line: int, array: bool) -> KeyPath:
        path: KeyPath = ()
        for i, key in enumerate(keys):
            path = (*path, key)
            last = i == len(keys) - 1
            if last and array:
                count = self.arrays.get(path, 0)
                self.arrays[path] = count + 1
                self.record(path, line, implicit=True)
                path = (*path, count)
            elif path in self.arrays:  # [route.x] after [[route]] means the latest route
                path = (*path, self.arrays[path] - 1)
            self.record(path, line, implicit=not last)
        return path

    def key_value(self, table: KeyPath) -> None:
        line = self.line_at(self.pos)
        keys = self.keys()
        path = table
        for i, key in enumerate(keys):
            path = (*path, key)
            self.record(path, line, implicit=i < len(keys) - 1)
        self.skip_blank()
        self.expect("=")
        self.value(path)

    def keys(self) -> list[str]:
        keys: list[str] = []
        while True:
            self.skip_blank()
            keys.append(self.key())
            self.skip_blank()
            if not self.text.startswith(".", self.pos):
                return keys
            self.pos += 1

    def key(self) -> str:
        char = self.text[self.pos : self.pos + 1]
        if char in ('"', "'"):
            start = self.pos
            self.string()
            return self.unquote(self.text[start : self.pos])
        match = _BARE_KEY.match(self.text, self.pos)
        if match is None:
            raise _Stop
        self.pos = match.end()
        return match.group()

    def unquote(self, raw: str) -> str:
        if raw.startswith("'") or "\\" not in raw:
            return raw[1:-1]
        try:  # let tomllib decode the escapes, so the key matches what tomllib returned
            return next(iter(tomllib.loads(f"{raw} = 0")))
        except (tomllib.TOMLDecodeError, StopIteration):
            raise _Stop from None

    # -- values ------------------------------------------------------------------------------

    def value(self, path: KeyPath) -> None:
        self.skip_blank()
        char = self.text[self.pos : self.pos + 1]
        if char in ('"', "'"):
            self.string()
        elif char == "{":
            self.inline_table(path)
        elif char == "[":
            self.array(path)
        else:
            match = _SCALAR_END.search(self.text, self.pos)
            end = match.start() if match else len(self.text)
            if end == self.pos:
                raise _Stop
            self.pos = end

    def inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while True:
            self.skip_blank(newlines=True)
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return
            self.key_value(path)
            self.skip_blank(newlines=True)
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("}", self.pos):
                raise _Stop

    def array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return
            self.record((*path, index), self.line_at(self.pos))
            self.value((*path, index))
            index += 1
            self.skip_blank(newlines=True)
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("]", self.pos):
                raise _Stop

    def string(self) -> None:
        text, quote = self.text, self.text[self.pos]
        multi = text.startswith(quote * 3, self.pos)
        end = self.pos + (3 if multi else 1)
        while end < len(text):
            char = text[end]
            if char == "\\" and quote == '"':
                end += 2  # an escaped character, maybe a quote, never closes the string
            elif multi and text.startswith(quote * 3, end):
                # Up to two more quotes may sit just inside the closing delimiter.
                run = 3
                while run < 5 and text.startswith(quote, end + run):
                    run += 1
                self.pos = end + run
                return
            elif not multi and char == quote:
                self.pos = end + 1
                return
            elif not multi and char == "\n":
                break
            else:
                end += 1
        raise _Stop

    # -- whitespace --------------------------------------------------------------------------

    def skip_blank(self, newlines: bool = False) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self.pos += 1
            elif char == "#" and newlines:
                newline = text.find("\n", self.pos)
                self.pos = len(text) if newline == -1 else newline
            else:
                return

    def end_of_line(self) -> None:
        self.skip_blank()
        if self.text.startswith("#", self.pos):
            newline = self.text.find("\n", self.pos)
            self.pos = len(self.text) if newline == -1 else newline
        if self.pos < len(self.text) and self.text[self.pos] != "\n":
            raise _Stop

    def expect(self, token: str) -> None:
        self.skip_blank()
        if not self.text.startswith(token, self.pos):
            raise _Stop
        self.pos += len(token)
