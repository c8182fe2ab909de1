"""`gateway serve --listen` onto a [tls] listen address is refused, as the same address in
[server] listen (or moved there by PORT) is: before, gateway served only https there and
the plain listener asked for was gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="[tls] needs the tls extra")

REPO = Path(__file__).resolve().parents[2]


def test_listen_onto_a_tls_address_is_refused(tmp_path: Path) -> None:
    (tmp_path / "gateway.toml").write_text(
        '[server]\nlisten = ["127.0.0.1:0"]\n\n[tls]\nlisten = ["127.0.0.1:18443"]\n'
        'local = { ca_dir = "ca" }\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--listen", "127.0.0.1:18443"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "gateway serve: --listen '127.0.0.1:18443' is also in [tls] listen: an address speaks"
        " either http or https; give --listen another port"
    )
