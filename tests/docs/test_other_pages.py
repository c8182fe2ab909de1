"""Other pages repeat some tables' keys in a summary of their own (cors.md, deploy.md,
proxy.md, static.md, tls.md, limits.md, handlers.md): their defaults are loaded and compared
as config.md's are, and a page that says it lists every key lists every key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.markdown import DOCS, key_tables, sections
from tests.docs.tables import (
    TABLES,
    check_default,
    default_cell,
)

# Other pages repeat a table's keys in a summary of their own: their defaults must agree too.
# (page, section title, which table of the section, the Table, whether it lists every key)
# Tables of limits.md and handlers.md mix keys, `timeouts.` keys and fixed limits: LOOSE.
LOOSE = [
    ("limits.md", "Reading a request", 0),
    ("limits.md", "Request bodies and memory", 0),
    ("limits.md", "Time", 0),
    ("limits.md", "Capacity", 0),
    ("handlers.md", "Threads: the loop or the pool", 1),
]


@pytest.mark.parametrize("page, title, index", LOOSE)
def test_server_keys_in_other_tables_have_their_defaults(
    page: str, title: str, index: int, site: Path
) -> None:
    found = [s for s in sections(DOCS / page) if s.title == title]
    assert found, f"docs/{page} has no section {title!r}"
    rows = key_tables(found[0], loose=True)[index]
    assert rows, f"docs/{page} {title}: no key rows"
    wrong = []
    for row in rows:
        name, key = (
            ("TIMEOUT_KEYS", row.key[9:])
            if row.key.startswith("timeouts.")
            else (
                "SERVER_KEYS",
                row.key,
            )
        )
        table = TABLES[name]
        if key not in table.keys:
            wrong.append(f"{row.key}: not a [server] key")
            continue
        problem = check_default(table, key, default_cell(table, row), site)
        if problem:
            wrong.append(f"{row.key} (doc: {default_cell(table, row)!r}): {problem}")
    assert not wrong, f"docs/{page} {title}:\n" + "\n".join(wrong)


ELSEWHERE = [
    ("cors.md", "A policy", 0, "CORS_KEYS", True),
    ("deploy.md", "Limits and timeouts", 0, "SERVER_KEYS", False),
    ("deploy.md", "Limits and timeouts", 1, "TIMEOUT_KEYS", True),
    ("proxy.md", "`[upstream.NAME]`", 0, "UPSTREAM_KEYS", True),
    ("proxy.md", "`proxy = { ... }` on a route", 0, "PROXY_KEYS", True),
    ("static.md", "Keys", 0, "STATIC_KEYS", True),
    ("tls.md", "Every key", 0, "TLS_KEYS", True),
]


@pytest.mark.parametrize("page, title, index, name, complete", ELSEWHERE)
def test_other_pages_key_tables_agree(
    page: str, title: str, index: int, name: str, complete: bool, site: Path
) -> None:
    table = TABLES[name]
    found = [s for s in sections(DOCS / page) if s.title == title]
    assert found, f"docs/{page} has no section {title!r}"
    rows = key_tables(found[0])[index]
    keys = [row.key for row in rows]
    assert len(keys) == len(set(keys)), f"docs/{page} {title}: a key listed twice"
    unknown = [key for key in keys if key not in table.keys]
    assert not unknown, f"docs/{page} {title}: rows for keys the loader refuses: {unknown}"
    if complete:
        missing = [key for key in table.keys if key not in keys]
        assert not missing, f"docs/{page} {title}: no row for {missing}"
    wrong = []
    for row in rows:
        cell = default_cell(table, row)
        problem = check_default(table, row.key, cell, site)
        if problem:
            wrong.append(f"{row.key} (doc: {cell!r}): {problem}")
    assert not wrong, f"docs/{page} {title} defaults:\n" + "\n".join(wrong)
