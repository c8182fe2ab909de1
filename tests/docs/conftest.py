"""The docs tests' shared fixture: a site folder the config tables load in."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with what the templates name: public/, certificate files (the loader only
    checks that they exist) and logs/."""
    folder = tmp_path_factory.mktemp("site")
    (folder / "public").mkdir()
    (folder / "public" / "index.html").write_text("home")
    for name in ("c.pem", "c.key", "ca.pem"):
        (folder / name).write_text("")
    return folder
