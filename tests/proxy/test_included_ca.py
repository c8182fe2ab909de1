"""An upstream's `ca` is relative to the file that sets it (docs/config.md): in an included
file, that file's folder. Before, it was looked for beside the main file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.load import load_config

pytest.importorskip("cryptography", reason="a CA file is made with the tls extra")
from tests.tls.certs import ScratchCA


def test_ca_in_an_included_file_is_relative_to_that_file(tmp_path: Path) -> None:
    ca = ScratchCA(tmp_path / "made")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ca.pem").write_bytes(ca.path.read_bytes())
    (tmp_path / "gateway.toml").write_text('include = ["sub/upstreams.toml"]\n')
    (tmp_path / "sub" / "upstreams.toml").write_text(
        '[upstream.x]\nservers = ["https://127.0.0.1:9443"]\nca = "ca.pem"\n'
    )
    config = load_config(tmp_path / "gateway.toml", environ={})
    assert config.upstreams["x"].ca == str((tmp_path / "sub" / "ca.pem").resolve())
