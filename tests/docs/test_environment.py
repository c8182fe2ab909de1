"""config.md's "Values from the environment", run: its example without SITE_ROOT gives the
error shown, and with the variables set, `gateway check --show-env` lists what is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from tests.docs.markdown import DOCS, sections

SECTION = next(s for s in sections(DOCS / "config.md") if s.title == "Values from the environment")
EXAMPLE = next(b for b in SECTION.blocks if b.lang == "toml")
ERROR, LISTING = (b.text.splitlines() for b in SECTION.blocks if b.lang == "")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "site").mkdir()
    (tmp_path / "gateway.toml").write_text(EXAMPLE.text)
    monkeypatch.chdir(tmp_path)
    for name in ("HOST", "PORT", "SITE_ROOT", "API_KEY", "GATEWAY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_an_unset_variable_is_the_error_shown(site: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("API_KEY", "k")
    assert main(["check"]) == 1
    assert capsys.readouterr().err.splitlines() == [*ERROR, "1 error"]


def test_show_env_lists_what_is_shown(site: Path, monkeypatch, capsys) -> None:
    for name, value in {"PORT": "9000", "SITE_ROOT": "site", "API_KEY": "s3cret"}.items():
        monkeypatch.setenv(name, value)
    assert main(["check", "--show-env"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == LISTING
    assert "s3cret" not in "\n".join(out)
