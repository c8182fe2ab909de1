"""[server] metrics, health and ready are answered before routing, each at its own path: two
of them at one path is a config error at the later key (before, it loaded and one endpoint
silently answered for both)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.load import ConfigLoadError, parse_config


def test_two_operations_endpoints_at_one_path_is_an_error(tmp_path: Path) -> None:
    text = '[server]\nmetrics = "/ops"\nhealth = "/ops"\nready = "/ops"\n'
    with pytest.raises(ConfigLoadError) as caught:
        parse_config(text, tmp_path / "gateway.toml", {})
    assert [f"{i.line}: {i.key}: {i.message}" for i in caught.value.issues] == [
        "3: server.health: '/ops' is also [server] metrics: give each endpoint its own path",
        "4: server.ready: '/ops' is also [server] metrics: give each endpoint its own path",
    ]


def test_the_default_paths_and_off_endpoints_are_fine(tmp_path: Path) -> None:
    text = '[server]\nmetrics = "/__gateway/metrics"\nhealth = false\nready = false\n'
    server = parse_config(text, tmp_path / "gateway.toml", {}).server
    assert (server.metrics, server.health, server.ready) == ("/__gateway/metrics", None, None)
