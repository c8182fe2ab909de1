"""Shared fixtures: `demo` serves the repository's gateway.toml; `site` writes a config
and files into tmp_path and serves them (see tests/support.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.support import Running, running_server, write_site

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo() -> Iterator[Running]:
    with running_server(REPO / "gateway.toml") as running:
        yield running


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """site(config_text, files={...}) -> a Running server for that site."""
    with ExitStack() as stack:

        def start(config: str, files: dict[str, Any] | None = None, **kwargs: Any) -> Running:
            path = write_site(tmp_path, config, files)
            return stack.enter_context(running_server(path, **kwargs))

        yield start
