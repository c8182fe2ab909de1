"""The Python the docs show is real: every ```python block parses, its `from gateway...
import X` names exist, and every dotted `gateway.x.y` name in an inline code span
(`gateway.config.env.render_env`) is a module or an attribute of one."""

from __future__ import annotations

import ast
import importlib
import re

import pytest

from tests.docs.markdown import DOCS, REPO, Block, blocks

PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
PYTHON = [block for page in PAGES for block in blocks(page) if block.lang == "python"]
# Dotted names that are files, not Python: gateway.toml, the systemd units.
FILES = (".toml", ".service", ".socket")


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


@pytest.mark.parametrize("block", PYTHON, ids=[b.where for b in PYTHON])
def test_python_block_parses_and_imports_what_exists(block: Block) -> None:
    try:
        tree = ast.parse(block.text)
    except SyntaxError as error:
        pytest.fail(f"{block.where}: {error}")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gateway":
            for alias in node.names:
                assert resolves(f"{node.module}.{alias.name}"), f"{block.where}: {alias.name}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "gateway":
                    assert resolves(alias.name), f"{block.where}: {alias.name}"


def test_dotted_names_in_the_text_exist() -> None:
    missing, seen = [], 0
    for page in PAGES:
        for number, line in enumerate(page.read_text().split("\n"), 1):
            for span in re.findall(r"`([^`\n]+)`", line):
                for name in re.findall(r"\bgateway(?:\.[A-Za-z_]\w*)+", span):
                    if name.endswith(FILES):
                        continue
                    seen += 1
                    if not resolves(name):
                        missing.append(f"{page.name}:{number}: {name}")
    assert seen >= 5
    assert not missing, missing
