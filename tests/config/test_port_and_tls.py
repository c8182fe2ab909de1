"""$PORT and [tls] listen: an address speaks either http or https. A [server] listen that
PORT moves onto a [tls] listen address is the same mistake as writing it there, and gets the
same error at load (before, `gateway check` passed and `gateway serve` quietly served only
https on it: the plain listener was gone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.load import ConfigLoadError, parse_config

pytest.importorskip("cryptography", reason="[tls] needs the tls extra")

SITE = """\
[server]
listen = ["127.0.0.1:8080"]

[tls]
listen = ["127.0.0.1:8443"]
local = true
"""


def issues(tmp_path: Path, environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigLoadError) as caught:
        parse_config(SITE, tmp_path / "gateway.toml", environ)
    return [str(issue) for issue in caught.value.issues]


def test_port_onto_the_tls_address_is_an_error_at_server_listen(tmp_path: Path) -> None:
    assert issues(tmp_path, {"PORT": "8443"}) == [
        f"{tmp_path / 'gateway.toml'}:2: server.listen: '127.0.0.1:8443' (its port from $PORT)"
        " is also in [tls] listen: an address speaks either http or https; set PORT to"
        " another port"
    ]


def test_port_elsewhere_is_fine(tmp_path: Path) -> None:
    config = parse_config(SITE, tmp_path / "gateway.toml", {"PORT": "9000"})
    assert config.server.listen == ("127.0.0.1:9000",)
    assert config.tls.listen == ("127.0.0.1:8443",)
