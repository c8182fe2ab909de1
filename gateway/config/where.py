"""Where: the place of a table (file, dotted key, line of each key) that every spec carries for
its error messages. Its own module so that specs outside gateway.config (the proxy's) can
use it without importing the schema that refers to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gateway.errors import ConfigIssue


@dataclass(frozen=True, slots=True)
class Where:
    """Where a table sits in its file: `key` is its dotted name ("route[3]", "server"),
    `line` the line of its header, `key_lines` the line of each key set inside it."""

    file: str = "<defaults>"
    key: str = ""
    line: int | None = None
    key_lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def issue(self, message: str, key: str | None = None) -> ConfigIssue:
        """A ConfigIssue at this table, or at one of its keys (dotted below it)."""
        if key is None:
            return ConfigIssue(self.file, self.line, self.key, message)
        top = key.split(".", 1)[0].split("[", 1)[0]
        line = self.key_lines.get(top, self.line)
        return ConfigIssue(self.file, line, f"{self.key}.{key}" if self.key else key, message)


NOWHERE = Where()
