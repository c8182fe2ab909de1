"""Reading TOML tables while collecting, not raising, every mistake. A Section wraps one table
and its key path; its getters take a converter (returns the value or raises Invalid), record
each problem as a ConfigIssue at the right line, and fall back to a default so reading goes on."""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TypeVar

from gateway.config.locate import KeyPath, Locator, Sources, format_key
from gateway.config.schema import Where
from gateway.errors import ConfigIssue, GatewayError

T = TypeVar("T")
D = TypeVar("D")
Convert = Callable[[object], T]


class Invalid(GatewayError, ValueError):
    """A converter's verdict: one or more (path below the key, message) problems. In the
    error family, and a ValueError still (as PatternError), so no handler of either changes."""

    def __init__(self, message: str = "", at: KeyPath = ()) -> None:
        super().__init__(message)
        self.problems: list[tuple[KeyPath, str]] = [(at, message)] if message else []

    @classmethod
    def merge(cls, errors: Iterable[Invalid]) -> Invalid:
        merged = cls()
        for error in errors:
            merged.problems.extend(error.problems)
        return merged

    def under(self, prefix: KeyPath) -> Invalid:
        """The same problems, seen from one level up (an array index, a table key)."""
        moved = Invalid()
        moved.problems = [((*prefix, *at), message) for at, message in self.problems]
        return moved


def describe(value: object) -> str:
    """A value's TOML type with an article, and the value itself when it is short."""
    names: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "a list"),
        (dict, "a table"),
        (datetime.datetime, "a datetime"),
        (datetime.date, "a date"),
        (datetime.time, "a time"),
    ]
    name = next((name for kind, name in names if isinstance(value, kind)), "a value")
    if isinstance(value, bool):
        return f"{name} ({'true' if value else 'false'})"
    if isinstance(value, str | int | float):
        return f"{name} ({value!r})"
    return name


def expected(what: str, value: object) -> Invalid:
    return Invalid(f"expected {what}, got {describe(value)}")


def close_match(word: str, options: Iterable[str]) -> str | None:
    """The option most like `word`, if any is close (case differences count as close)."""
    options = list(options)
    close = difflib.get_close_matches(word, options, n=1) or difflib.get_close_matches(
        word.lower(), options, n=1
    )
    return close[0] if close else None


def suggest(word: str, options: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when an option is close to `word`, else ''."""
    close = close_match(word, options)
    return f" (did you mean {close!r}?)" if close else ""


def quoted(options: Iterable[str]) -> str:
    return ", ".join(repr(option) for option in options)


class Issues:
    """Every ConfigIssue found so far, placed on the line (and, with includes, in the file)
    each key path comes from. Keys are shown as written in their own file."""

    def __init__(self, file: str, locator: Locator, sources: Sources | None = None) -> None:
        self.file = file
        self.sources = sources or Sources(file, locator)
        self.items: list[ConfigIssue] = []
        # Values already reported (an unset variable): what reading them finds is not news.
        self.silenced: set[KeyPath] = set()

    def place(self, path: KeyPath) -> tuple[str, int | None, str]:
        """(file, line, dotted key) where `path` of the merged config is written."""
        file, locator, local = self.sources.origin(path)
        return file, locator.line(local), format_key(local)

    def line(self, path: KeyPath) -> int | None:
        return self.place(path)[1]

    def add(self, path: KeyPath, message: str, line: int | None = None) -> None:
        if any(path[:end] in self.silenced for end in range(len(path), 0, -1)):
            return
        file, found, key = self.place(path)
        self.items.append(ConfigIssue(file, found if line is None else line, key, message))

    def where(self, path: KeyPath) -> Where:
        file, locator, local = self.sources.origin(path)
        lines = MappingProxyType(locator.key_lines(local))
        return Where(file, format_key(local), locator.line(local), lines)

    def sorted(self) -> list[ConfigIssue]:
        # The main file first, then included files; stable, so problems on one line keep
        # the order they were found in.
        return sorted(
            self.items, key=lambda issue: (issue.file != self.file, issue.file, issue.line or 0)
        )


class Section:
    """One table being read. `ok` turns False on any problem in it or in a table below it."""

    def __init__(
        self,
        issues: Issues,
        path: KeyPath,
        data: Mapping[str, object],
        parent: Section | None = None,
    ) -> None:
        self.issues = issues
        self.path = path
        self.data = data
        self.parent = parent
        self.ok = True

    @property
    def where(self) -> Where:
        return self.issues.where(self.path)

    def fail(
        self, key: str | None, message: str, line: int | None = None, at: KeyPath = ()
    ) -> None:
        """Record a problem at this table, or at one of its keys (`at`: below that key)."""
        path = self.path if key is None else (*self.path, key, *at)
        self.issues.add(path, message, line)
        self.mark_failed()

    def mark_failed(self) -> None:
        section: Section | None = self
        while section is not None:
            section.ok = False
            section = section.parent

    def line_of(self, key: str) -> int | None:
        return self.issues.line((*self.path, key))

    def has(self, key: str) -> bool:
        return key in self.data

    def check_keys(self, allowed: Sequence[str], homes: Mapping[str, str] | None = None) -> None:
        """An issue for each key not in `allowed`, naming the closest allowed one, or the
        table it belongs in when `homes` knows it."""
        for key in self.data:
            if key in allowed:
                continue
            if homes and key in homes:
                hint = f": it belongs under {homes[key]}"
            else:
                hint = suggest(key, allowed) or f": valid keys are {', '.join(allowed)}"
            self.fail(key, f"unknown key {key!r}{hint}")

    def get(self, key: str, convert: Convert[T], default: D) -> T | D:
        """The converted value of `key`; `default` when it is absent or wrong."""
        if key not in self.data:
            return default
        try:
            return convert(self.data[key])
        except Invalid as error:
            for at, message in error.problems:
                self.fail(key, message, at=at)
            return default

    def require(self, key: str, convert: Convert[T]) -> T | None:
        """Like get, but a missing key is a problem too."""
        if key not in self.data:
            self.fail(None, f"missing required key {key!r}")
            return None
        return self.get(key, convert, None)

    def table(self, key: str) -> Section | None:
        """The table at `key` as a Section below this one; None when absent or not a table."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(key, expected("a table", value).problems[0][1])
            return None
        return Section(self.issues, (*self.path, key), value, parent=self)

    def tables(self, key: str, hint: str = "") -> list[Section]:
        """The array of tables at `key`, one Section per table; wrong elements are problems."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            hint = hint or (f" ([[{key}]])" if not self.path else "")
            self.fail(key, f"expected a list of tables{hint}, got {describe(value)}")
            return []
        found = []
        for index, item in enumerate(value):
            path = (*self.path, key, index)
            if isinstance(item, dict):
                found.append(Section(self.issues, path, item, parent=self))
            else:
                self.issues.add(path, f"expected a table, got {describe(item)}")
                self.mark_failed()
        return found

    def named(
        self, kind: str, what: str, keys: Collection[str]
    ) -> Iterator[tuple[str, dict[str, object]]]:
        """The [kind.NAME] tables in this one, as (NAME, table); a NAME that is not a table is
        reported (`what` is one, e.g. "an upstream"; a NAME among `keys` was meant as one)."""
        for name, value in self.data.items():
            if isinstance(value, dict):
                yield name, value
                continue
            hint = f"put {name!r} under [{kind}.NAME]" if name in keys else f"write [{kind}.NAME]"
            self.fail(name, f"{what} is a named table: {hint}")
