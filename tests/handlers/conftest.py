"""Fixtures of the handler tests: `client` talks to the module's `server` (a real gateway on
127.0.0.1); `in_process(site, files)` is a client answered in process by gateway.testing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from gateway.testing import Transport
from tests.support import Running, write_site

InProcess = Callable[[str, dict[str, str]], httpx.Client]


@pytest.fixture
def client(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[InProcess]:
    """in_process(site, files) -> an httpx.Client on http://test answered by gateway.testing
    from that site, written into tmp_path; closed after the test."""
    with ExitStack() as stack:

        def make(site: str, files: dict[str, str]) -> httpx.Client:
            transport = Transport(write_site(tmp_path, site, files))
            return stack.enter_context(httpx.Client(transport=transport, base_url="http://test"))

        yield make
