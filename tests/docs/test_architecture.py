"""docs/architecture.md names every package and module of gateway/ in its tables, and each
`x.py` a package's row names exists in that package."""

from __future__ import annotations

import re

from tests.docs.markdown import DOCS, REPO, cells, sections

GATEWAY = REPO / "gateway"
ROWS = [
    cells(line)
    for section in sections(DOCS / "architecture.md")
    for line in section.lines
    if line.startswith("| `gateway/")
]


def test_every_package_and_module_is_in_a_table() -> None:
    named = set()
    for row in ROWS:
        spans = re.findall(r"`([^`]+)`", row[0])
        named |= {span.removeprefix("gateway/").rstrip("/") for span in spans}
    entries = {
        path.stem if path.suffix == ".py" else path.name
        for path in GATEWAY.iterdir()
        if not path.name.startswith(("_", "."))
        and (path.suffix == ".py" or (path / "__init__.py").exists())
    }
    shown = {name.removesuffix(".py") for name in named}
    missing = sorted(entries - shown)
    assert not missing, f"docs/architecture.md has no row for gateway/{missing}"


def test_each_file_a_package_row_names_exists() -> None:
    absent = []
    for row in ROWS:
        packages = [s for s in re.findall(r"`(gateway/[^`]+/)`", row[0])]
        for package in packages:
            for name in re.findall(r"`([\w/]+\.py)", row[1]):
                if not (REPO / package / name).exists() and not (GATEWAY / name).exists():
                    absent.append(f"{package}{name}")
    assert not absent, f"docs/architecture.md names files that do not exist: {absent}"
