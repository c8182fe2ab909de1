"""Links between the docs land: each relative link of README.md and docs/*.md names a file
that exists, and its #anchor a heading of that file (GitHub's anchors: lowercase, spaces to
hyphens, punctuation other than - and _ dropped, -1, -2... for repeated headings)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.markdown import DOCS, REPO, sections

PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_CODE = re.compile(r"`[^`\n]*`")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for section in sections(path):
        slug = re.sub(r"[^\w\- ]", "", section.title.lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of each markdown link outside code."""
    found, fenced = [], False
    for number, line in enumerate(path.read_text().split("\n"), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            found += [(number, target) for target in _LINK.findall(_CODE.sub("", line))]
    return found


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_land(page: Path) -> None:
    broken = []
    for number, target in links(page):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        landing = (page.parent / file).resolve() if file else page
        if not landing.exists():
            broken.append(f"{page.name}:{number}: {target}: no such file")
        elif anchor and landing.suffix == ".md" and anchor not in anchors(landing):
            broken.append(f"{page.name}:{number}: {target}: no heading #{anchor}")
    assert not broken, "\n".join(broken)
