"""The reload line says what changed: routes added, removed and changed (a respond body or a
redirect target counts), static mounts, cors policies and [server]/[dev] keys; moving a
table down the file is no change."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.load import parse_config
from gateway.config.schema import GatewayConfig
from gateway.reload.summary import describe_changes, listen_changed

BASE = """
[server]
listen = ["127.0.0.1:8000"]

[[route]]
path = "/a"
respond = { body = "one" }

[[route]]
path = "/old"
redirect = { to = "/new" }

[[static]]
prefix = "/"
dir = "."
"""


@pytest.fixture
def load(tmp_path: Path):
    def run(text: str) -> GatewayConfig:
        return parse_config(text, tmp_path / "gateway.toml", {})

    return run


def test_a_changed_respond_body_is_a_changed_route(load) -> None:
    before = load(BASE)
    after = load(BASE.replace('"one"', '"two"'))
    assert describe_changes(before, after) == "routes: +0 -0 ~1 (~/a)"


def test_every_kind_of_change_is_named(load) -> None:
    before = load(BASE)
    changed = load(
        BASE.replace('to = "/new"', 'to = "/newer"')
        .replace('dir = "."', 'dir = "."\nlisting = true')
        .replace('listen = ["127.0.0.1:8000"]', 'listen = ["127.0.0.1:9000"]\naccess_log = "off"')
        + '\n[[route]]\npath = "/b"\nrespond = {}\n\n[cors.app]\nallow_origins = ["*"]\n'
        + "\n[dev]\ndebounce = '1s'\n"
    )
    assert describe_changes(before, changed) == (
        "routes: +1 -0 ~1 (+/b ~/old); static: +0 -0 ~1 (~/); cors: +1 -0 ~0 (+app); "
        "server: listen, access_log; dev: debounce"
    )
    assert listen_changed(before, changed) and not listen_changed(before, load(BASE))


def test_moving_a_route_changes_nothing_and_long_lists_are_cut(load) -> None:
    moved = BASE.replace('[[route]]\npath = "/a"\nrespond = { body = "one" }\n', "") + (
        '\n[[route]]\npath = "/a"\nrespond = { body = "one" }\n'
    )
    assert describe_changes(load(BASE), load(moved)) == "routes: +0 -0 ~0"
    many = BASE + "".join(f'\n[[route]]\npath = "/r{i}"\nrespond = {{}}\n' for i in range(5))
    assert describe_changes(load(BASE), load(many)) == "routes: +5 -0 ~0 (+/r0 +/r1 +/r2 +2 more)"
