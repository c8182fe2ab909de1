"""Config issues as a person reads them: sorted by file and line, a broken handler module
reported once however many routes use it, and the offending source line of a module shown
with a caret under it (as TOML syntax errors are), read from the file the message names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from gateway.errors import ConfigIssue

# Messages about a module, the same for every route that names it.
_MODULE = re.compile(r"(importing '[^']+' failed: |module '[^']+' (not found|has no function))")
# "importing 'api.app' failed: api/app.py:2: SyntaxError: ..." -> the file, line and error.
_AT_SOURCE = re.compile(r"failed: (?P<file>[^:\n]+\.py):(?P<line>\d+): (?P<error>\w+)")
_SYNTAX = ("SyntaxError", "IndentationError", "TabError")


def format_issues(issues: Sequence[ConfigIssue], root: Path | None = None) -> list[str]:
    """One text per problem: issues with the same module message are merged into the first,
    which lists the other places; `root` is the site root module paths are relative to."""
    ordered = sorted(issues, key=lambda issue: (issue.file, issue.line or 0))
    groups: dict[str, list[ConfigIssue]] = {}
    texts: list[str | list[ConfigIssue]] = []
    for issue in ordered:
        if _MODULE.match(issue.message):
            if issue.message not in groups:
                groups[issue.message] = []
                texts.append(groups[issue.message])
            groups[issue.message].append(issue)
        else:
            texts.append(str(issue))
    return [item if isinstance(item, str) else _merged(item, root) for item in texts]


def _merged(group: list[ConfigIssue], root: Path | None) -> str:
    first, others = group[0], group[1:]
    text = str(first)
    if others:
        places = ", ".join(f"{i.key} at {i.file}:{i.line}" if i.line else i.key for i in others)
        text += f" (also used by {places})"
    return text + source_snippet(first.message, root)


def source_snippet(message: str, root: Path | None) -> str:
    """'\\n    code line\\n    ^^^' for a message naming 'file.py:LINE: Error', or ''."""
    found = _AT_SOURCE.search(message)
    if found is None:
        return ""
    path = Path(found["file"])
    if root is not None and not path.is_absolute():
        path = root / path
    number = int(found["line"])
    try:
        source = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = source.splitlines()
    if not 1 <= number <= len(lines) or not lines[number - 1].strip():
        return ""
    line = lines[number - 1].rstrip()
    code = line.lstrip()
    indent = len(line) - len(code)
    start, end = 0, len(code)
    if found["error"] in _SYNTAX:
        columns = _syntax_columns(source, str(path), number)
        if columns is not None:
            start = max(0, min(columns[0] - 1 - indent, len(code) - 1))
            end = max(start + 1, min(columns[1] - 1 - indent, len(code)))
    return f"\n    {code}\n    {' ' * start}{'^' * (end - start)}"


def _syntax_columns(source: str, filename: str, number: int) -> tuple[int, int] | None:
    """The 1-based (start, end) columns Python's compiler gives a syntax error on `number`."""
    try:
        compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as error:
        if error.lineno != number or not error.offset:
            return None
        end = error.end_offset if error.end_lineno == number and error.end_offset else 0
        return error.offset, max(end, error.offset + 1)
    except ValueError:  # NUL bytes in the source
        return None
    return None
