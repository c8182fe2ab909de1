"""docs/config.md against the loader: every key each table of gateway.toml accepts (the
`*_KEYS` tuples the readers check keys with, found in the modules, not listed here) has a
row in its section of the reference, no row names a key the code refuses, each row's
default is what loading the table without the key gives (the default written in the doc is
loaded and compared), and each key is shown in an example that loads."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

from gateway.config.load import TOP_KEYS, ConfigLoadError
from tests.docs.markdown import DOCS, Row, Section, cells, key_rows, sections
from tests.docs.tables import (
    ALTERNATIVES,
    KEY_MODULES,
    NOT_TABLES,
    TABLES,
    Table,
    check_default,
    default_cell,
    load,
)

CONFIG_MD = DOCS / "config.md"

SECTIONS = {section.title: section for section in sections(CONFIG_MD)}


def section_of(table: Table) -> Section:
    found = [s for title, s in SECTIONS.items() if title.split(" ")[0] == table.heading]
    assert found, f"docs/config.md has no section '{table.heading}' for {', '.join(table.keys)}"
    return found[0]


def rows_of(table: Table) -> dict[str, Row]:
    rows = key_rows(section_of(table))
    names = [row.key for row in rows]
    twice = sorted({name for name in names if names.count(name) > 1})
    assert not twice, f"config.md section {table.heading} lists {twice} more than once"
    return {row.key: row for row in rows}


def test_every_key_tuple_of_the_readers_is_documented() -> None:
    """A reader's new `*_KEYS` (a new table) needs a Table here, so it is checked."""
    found = set()
    for name in KEY_MODULES:
        module = importlib.import_module(name)
        found |= {attr for attr in vars(module) if attr.endswith("_KEYS")}
    # Imported names count once, under the name they are defined with.
    missing = found - set(TABLES) - NOT_TABLES
    assert not missing, f"key tuples with no Table in this test: {sorted(missing)}"
    for name, table in TABLES.items():
        if name.endswith("_KEYS"):
            module_values = [getattr(importlib.import_module(m), name, None) for m in KEY_MODULES]
            assert table.keys in module_values, name


def test_every_top_level_table_has_a_section() -> None:
    titles = " ".join(SECTIONS)
    for key in TOP_KEYS:
        assert re.search(rf"\[\[?{key}[\].]", titles), f"no section for the top-level {key!r}"


@pytest.mark.parametrize("name", TABLES)
def test_each_key_has_a_row_and_each_row_a_key(name: str) -> None:
    table = TABLES[name]
    rows = rows_of(table)
    missing = [key for key in table.keys if key not in rows]
    unknown = [key for key in rows if key not in table.keys]
    assert not missing, f"config.md {table.heading}: no row for {missing}"
    assert not unknown, f"config.md {table.heading}: rows for keys the loader refuses: {unknown}"


@pytest.mark.parametrize("name", TABLES)
def test_each_default_is_what_the_loader_uses(name: str, site: Path) -> None:
    table = TABLES[name]
    rows = rows_of(table)
    wrong = []
    for key in table.keys:
        if key not in rows:
            continue  # reported by the test above
        cell = default_cell(table, rows[key])
        problem = check_default(table, key, cell, site)
        if problem:
            wrong.append(f"{key} (doc: {cell!r}): {problem}")
    assert not wrong, f"config.md {table.heading} defaults:\n" + "\n".join(wrong)


EXAMPLE = re.compile(r"Example: `([^`]+)`")


@pytest.mark.parametrize("name", TABLES)
def test_each_key_has_an_example_that_loads(name: str, site: Path) -> None:
    """Each key shows in a TOML block of its section, or in an `Example:` in its row; the
    row examples are loaded here (the blocks by test_examples.py)."""
    table = TABLES[name]
    section = section_of(table)
    shown = "\n".join(block.text for block in section.blocks if block.lang == "toml")
    rows = rows_of(table)
    missing = []
    for key in table.keys:
        row = rows.get(key)
        examples = EXAMPLE.findall(row.line) if row else []
        if not re.search(rf"(?<![\w.-]){re.escape(key)}\s*=", "\n".join([shown, *examples])):
            missing.append(key)
        # The example replaces the template's value for its key, or for the alternatives.
        drop = (key, *(k for k in table.required if (table.heading, k) in ALTERNATIVES))
        for example in examples:
            try:
                load(table.text(example, drop), site)
            except ConfigLoadError as error:
                pytest.fail(f"config.md {table.heading} {key}: {example!r} does not load: {error}")
    assert not missing, f"config.md {table.heading}: no example shows {missing}"


# config.md's "Value types": each value a type is "written as" loads in a key of that type,
# as do the others its notes show, except those the notes say "is not" accepted.
PROBES = {
    "string": "[server]\npid_file = {}",
    "integer": "[server]\nworkers = {}",
    "boolean": "[dev]\nreload = {}",
    "list": "[cors.app]\nallow_origins = {}",
    "size": "[server]\nmax_body_bytes = {}",
    "duration": "[dev]\ndebounce = {}",
    "path": "[server]\npid_file = {}",
}


def value_rows() -> list[list[str]]:
    found = [s for s in sections(CONFIG_MD) if s.title == "Value types"]
    assert found, "config.md has no 'Value types' section"
    rows = [cells(line) for line in found[0].lines if line.startswith("|")][2:]
    return [row for row in rows if row[0] in PROBES]


def test_value_types_load_as_shown(site: Path) -> None:
    rows = value_rows()
    assert {row[0] for row in rows} == set(PROBES)
    wrong = []
    for kind, written, notes in rows:
        good = re.findall(r"`([^`]+)`", written)
        refused = re.findall(r"`([^`]+)` is not", notes)
        good += [s for s in re.findall(r"`([^`]+)`", notes) if s not in refused]
        for value in good + refused:
            try:
                tomllib.loads(f"v = {value}")
            except tomllib.TOMLDecodeError:
                continue  # a unit name, a key, not a value
            try:
                load(PROBES[kind].format(value), site)
                loads = True
            except ConfigLoadError:
                loads = False
            if loads != (value not in refused):
                wrong.append(f"{kind} {value}: {'loads' if loads else 'is refused'}")
    assert not wrong, wrong
