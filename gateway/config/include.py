"""`include = ["routes/*.toml"]`: more [[route]], [[static]] and [cors.NAME] tables from other
files, merged into the including file's data before it is read. Globs resolve from the
including file's folder and are taken in sorted order; included files may include others.
Each merged table is registered in Sources, so an error names its own file and line."""

from __future__ import annotations

import glob
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gateway.config.fields import Invalid, Issues, describe
from gateway.config.locate import KeyPath, Locator, format_key, locate
from gateway.config.source import decode, display_name, not_utf8, syntax_issue
from gateway.config.values import path_text
from gateway.errors import ConfigIssue

ARRAYS = ("route", "static")  # arrays of tables: appended in include order
TABLES = ("cors", "upstream")  # tables of named tables: a name may be defined once
INCLUDABLE = (*ARRAYS, *TABLES, "include")


@dataclass
class Included:
    """What the includes of one config read: the files, and the absolute patterns (the
    reloader expands them again, so a file added to a globbed folder is seen)."""

    files: list[Path] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)


def merge_includes(data: dict[str, object], path: Path, issues: Issues) -> Included:
    """Merge every file `data` (the config at `path`) includes into `data`, in place."""
    found = Included()
    _File(data, path.resolve(), issues.file, issues.sources.locator, issues, found).merge(
        [path.resolve()]
    )
    return found


class _File:
    """One file being merged: its data, where it sits, and how to place its keys."""

    def __init__(
        self,
        data: dict[str, object],
        path: Path,
        name: str,
        locator: Locator,
        issues: Issues,
        found: Included,
    ) -> None:
        self.data, self.path, self.name, self.locator = data, path, name, locator
        self.issues, self.found = issues, found

    def fail(self, local: KeyPath, message: str) -> None:
        line = self.locator.line(local)
        self.issues.items.append(ConfigIssue(self.name, line, format_key(local), message))

    def merge(self, stack: list[Path], into: dict[str, object] | None = None) -> None:
        """Read this file's `include` list and merge each file into `into` (the main data)."""
        target = self.data if into is None else into
        patterns = self.data.pop("include", None) if into is None else self.data.get("include")
        if patterns is None:
            return
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list):
            self.fail(
                ("include",), f"expected a list of file names or globs, got {describe(patterns)}"
            )
            return
        for index, pattern in enumerate(patterns):
            if not isinstance(pattern, str) or not pattern:
                self.fail(
                    ("include", index), f"expected a file name or glob, got {describe(pattern)}"
                )
                continue
            try:
                path_text(pattern)
            except Invalid as exc:
                self.fail(("include", index), exc.problems[0][1])
                continue
            for file in self.expand(pattern, index):
                self.include(file, stack, target, ("include", index))

    def expand(self, pattern: str, index: int) -> list[Path]:
        absolute = str(self.path.parent / pattern)
        if not glob.has_magic(pattern):
            if not Path(absolute).is_file():
                self.fail(("include", index), f"file {absolute!r} does not exist")
                return []
            return [Path(absolute).resolve()]
        self.found.patterns.append(absolute)
        matches = sorted(glob.glob(absolute, recursive=True))
        return [Path(p).resolve() for p in matches if os.path.isfile(p)]  # not folders

    def include(
        self, file: Path, stack: list[Path], target: dict[str, object], at: KeyPath
    ) -> None:
        if file in stack:
            cycle = " -> ".join(_shown(p) for p in [*stack[stack.index(file) :], file])
            self.fail(at, f"include cycle: {cycle}: an included file may not include itself")
            return
        if file in self.found.files:
            return  # matched by two patterns: merged once
        self.found.files.append(file)
        name = _shown(file)
        try:
            data = file.read_bytes()
            text = decode(data)
        except OSError as exc:
            self.fail(at, f"cannot read included file {name!r}: {exc.strerror}")
            return
        except UnicodeDecodeError as exc:
            line, message = not_utf8(data, exc)
            self.fail(at, f"cannot read included file {name!r}: line {line} {message}")
            return
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            self.issues.items.append(syntax_issue(name, text, error))
            return
        child = _File(table, file, name, locate(text), self.issues, self.found)
        child.check_keys()
        child.merge([*stack, file], into=target)
        child.add_tables(target)

    def check_keys(self) -> None:
        for key in self.data:
            if key not in INCLUDABLE:
                allowed = ", ".join(f"[[{k}]]" for k in ARRAYS) + ", [cors.NAME] and include"
                self.fail(
                    (key,),
                    f"{key!r} cannot be set in an included file: it may hold {allowed}; "
                    f"set {key!r} in the main config",
                )

    def add_tables(self, target: dict[str, object]) -> None:
        """Append this file's arrays of tables and named tables to the merged data."""
        sources = self.issues.sources
        for key in ARRAYS:
            entries = self.data.get(key)
            if entries is None:
                continue
            if not isinstance(entries, list):
                self.fail((key,), f"expected a list of tables ([[{key}]]), got {describe(entries)}")
                continue
            merged = target.setdefault(key, [])
            if not isinstance(merged, list):
                continue  # the main file's own mistake, reported when it is read
            for index, entry in enumerate(entries):
                sources.add((key, len(merged)), self.name, self.locator, (key, index))
                merged.append(entry)
        for key in TABLES:
            self.add_named(key, target)

    def add_named(self, key: str, target: dict[str, object]) -> None:
        tables = self.data.get(key)
        if tables is None:
            return
        if not isinstance(tables, dict):
            self.fail((key,), f"expected a table ([{key}.NAME]), got {describe(tables)}")
            return
        merged = target.setdefault(key, {})
        if not isinstance(merged, dict):
            return
        for name, table in tables.items():
            if name in merged:
                file, line, _ = self.issues.place((key, name))
                first = f"{file}:{line}" if line else file
                self.fail((key, name), f"{key} policy {name!r} is already defined at {first}")
                continue
            self.issues.sources.add((key, name), self.name, self.locator, (key, name))
            merged[name] = table


def _shown(path: Path) -> str:
    return display_name(path)
