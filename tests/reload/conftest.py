"""Fixtures for reload tests: `reloading(config, files)` writes a site into tmp_path, serves
it on 127.0.0.1:0 and runs a Reloader against that server; both stop when the test ends."""

from __future__ import annotations

import logging
import os
import textwrap
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.reload import Reloader
from tests.support import Running, running_server, wait_for, write_site


@dataclass
class Reloading:
    running: Running
    reloader: Reloader
    config: Path

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def root(self) -> Path:
        return self.config.parent

    def write(self, name: str, text: str, how: str = "inplace") -> None:
        """Save a file the way an editor does: in place, or to a temp file renamed over it."""
        write_file(self.root / name, textwrap.dedent(text), how)


def write_file(path: Path, text: str, how: str = "inplace") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "inplace":
        path.write_text(text)
    else:
        temp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        temp.write_text(text)
        os.replace(temp, path)


@contextmanager
def reloading_server(config_path: Path) -> Iterator[Reloading]:
    with running_server(config_path) as running:
        wait_for(lambda: running.server.loop.running)
        reloader = Reloader(config_path, running.server)
        reloader.start()
        wait_for(lambda: reloader.checks)  # the check at start, so counters start from rest
        try:
            yield Reloading(running, reloader, config_path)
        finally:
            reloader.stop()


@pytest.fixture
def reloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Reloading]]:
    """reloading(config_text, files={...}, subdir="") -> a Reloading for that site. The
    working directory is tmp_path, so messages name files as a user in the site would see."""
    monkeypatch.chdir(tmp_path)
    with ExitStack() as stack:

        def start(config: str, files: dict[str, Any] | None = None, subdir: str = "") -> Reloading:
            path = write_site(tmp_path / subdir if subdir else tmp_path, config, files)
            return stack.enter_context(reloading_server(path))

        yield start


@pytest.fixture
def reload_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="gateway.reload")
    return caplog


def settle(reloader: Reloader, before: int, counter: str = "skipped", timeout: float = 10) -> None:
    """Wait until the reloader's `counter` moved past `before`."""
    wait_for(lambda: getattr(reloader, counter) > before, timeout)


@pytest.fixture(autouse=True)
def _no_twelve_factor_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """PORT or GATEWAY_CONFIG in the environment running the tests must not change them."""
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
