"""The `check` fixture of the config tests: write a gateway.toml into a small site in
tmp_path, load it, and return the issues as printed."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config.load import ConfigLoadError, load_config

Check = Callable[[str], list[str]]


@pytest.fixture
def check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Check:
    """check(toml) -> the issues load_config reports, as printed, with the site's folder
    shown as {root}."""
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "public" / "404.html").write_text("<h1>404</h1>")
    monkeypatch.chdir(tmp_path)

    def run(text: str) -> list[str]:
        Path("gateway.toml").write_text(textwrap.dedent(text))
        with pytest.raises(ConfigLoadError) as caught:
            load_config("gateway.toml")
        root = str(tmp_path.resolve())
        return [str(issue).replace(root, "{root}") for issue in caught.value.issues]

    return run


@pytest.fixture(autouse=True)
def _no_twelve_factor_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """PORT or GATEWAY_CONFIG in the environment running the tests must not change them."""
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
