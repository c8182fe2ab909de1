"""Reading the docs as data: a markdown file's sections (by heading), the key tables in a
section (rows like "| `key` | ... |" under a header row) and its fenced code blocks, each with
its line number and the HTML comment just before it (`<!-- fragment -->`)."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

_HEADING = re.compile(r"(#{1,6}) (.*)")
_FENCE = re.compile(r"(\s*)```(\w*)\s*$")
_COMMENT = re.compile(r"<!--\s*(.*?)\s*-->")


@dataclass
class Block:
    """One fenced code block: its language, text (dedented) and where it starts."""

    file: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    marker: str  # the HTML comment on the line before the fence, "" when none

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line}"


@dataclass
class Section:
    """The lines under one heading, up to the next heading of any level."""

    title: str
    level: int
    line: int
    lines: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


def blocks(path: Path) -> list[Block]:
    """Every fenced block of `path`, in order (indented ones, inside list items, too)."""
    found = []
    lines = path.read_text().split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE.fullmatch(lines[index])
        if opening is None:
            index += 1
            continue
        end = index + 1
        while not _closes(lines[end]):
            end += 1
        before = lines[index - 1].strip() if index else ""
        comment = _COMMENT.fullmatch(before)
        text = textwrap.dedent("\n".join(lines[index + 1 : end])) + "\n"
        found.append(
            Block(path, index + 1, opening.group(2), text, comment.group(1) if comment else "")
        )
        index = end + 1
    return found


def _closes(line: str) -> bool:
    fence = _FENCE.fullmatch(line)
    return fence is not None and not fence.group(2)


def sections(path: Path) -> list[Section]:
    """The sections of `path` (text before the first heading is left out). Lines inside
    code blocks are never headings."""
    found: list[Section] = []
    fenced = False
    for number, line in enumerate(path.read_text().split("\n"), 1):
        if _FENCE.fullmatch(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.fullmatch(line)
        if heading:
            found.append(Section(heading.group(2).strip(), len(heading.group(1)), number))
        elif found:
            found[-1].lines.append(line)
    by_line = {block.line: block for block in blocks(path)}
    for section in found:
        last = section.line + len(section.lines)
        section.blocks = [b for line, b in by_line.items() if section.line < line <= last]
    return found


def cells(line: str) -> list[str]:
    """The cells of a markdown table row (a `|` inside backticks does not split)."""
    parts, current, ticks = [], "", False
    for char in line.strip().strip("|"):
        if char == "`":
            ticks = not ticks
        if char == "|" and not ticks:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts


@dataclass
class Row:
    key: str
    columns: dict[str, str]  # header name (lowercase) -> cell
    line: str


def key_tables(section: Section, loose: bool = False) -> list[list[Row]]:
    """The section's tables, each as its rows whose first cell is one backticked key (with
    `loose`, that starts with one: "`max_headers` (header section)")."""
    tables: list[list[Row]] = []
    header = None
    for line in section.lines:
        if not line.startswith("|"):
            header = None
            continue
        row = cells(line)
        if header is None:
            header = [cell.lower() for cell in row]
            tables.append([])
            continue
        key = (re.match if loose else re.fullmatch)(r"`([^`]+)`", row[0])
        if key is not None:
            tables[-1].append(Row(key.group(1), dict(zip(header, row, strict=False)), line))
    return tables


def key_rows(section: Section) -> list[Row]:
    """The key rows of all the section's tables."""
    return [row for table in key_tables(section) for row in table]
