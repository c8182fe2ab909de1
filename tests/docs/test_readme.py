"""README.md's tour says "The demo's file looks like this": each table and key its block
shows is in the repository's gateway.toml with the same value."""

from __future__ import annotations

import tomllib

from tests.docs.markdown import REPO, blocks


def contained(part: object, whole: object) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            key in whole and contained(value, whole[key]) for key, value in part.items()
        )
    if isinstance(part, list) and part and isinstance(part[0], dict):
        return isinstance(whole, list) and all(any(contained(p, w) for w in whole) for p in part)
    return part == whole


def test_the_readme_block_is_part_of_the_demo_config() -> None:
    shown = [b for b in blocks(REPO / "README.md") if b.lang == "toml"]
    assert len(shown) == 1
    demo = tomllib.loads((REPO / "gateway.toml").read_text())
    assert contained(tomllib.loads(shown[0].text), demo)
