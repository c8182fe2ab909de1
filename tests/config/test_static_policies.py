"""[static] dotfiles / symlinks: config declares the allowed values once (schema.DOTFILES,
SYMLINKS); each loads from gateway.toml and passes the static side's own check."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from gateway.config.load import load_config
from gateway.config.schema import DOTFILES, SYMLINKS
from gateway.static.spec import check_spec


@pytest.mark.parametrize(("dotfiles", "symlinks"), list(itertools.product(DOTFILES, SYMLINKS)))
def test_every_declared_policy_loads_and_passes_the_static_check(
    tmp_path: Path, dotfiles: str, symlinks: str
) -> None:
    (tmp_path / "public").mkdir()
    toml = f"[[static]]\nprefix = '/'\ndir = 'public'\ndotfiles = '{dotfiles}'\n"
    (tmp_path / "gateway.toml").write_text(toml + f"symlinks = '{symlinks}'\n")
    (spec,) = load_config(str(tmp_path / "gateway.toml")).static
    assert (spec.dotfiles, spec.symlinks) == (dotfiles, symlinks)
    assert check_spec(spec) == []
