"""`gateway init` and dump_config: the starter site loads cleanly and nothing is overwritten."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gateway.config.load import load_config
from gateway.config.write import STARTER_CONFIG, dump_config, init_site


def test_init_site_writes_a_site_that_loads(tmp_path: Path) -> None:
    site = tmp_path / "mysite"
    written = init_site(site)
    assert written == [
        site / "gateway.toml",
        site / "public" / "index.html",
        site / "api" / "hello.py",
    ]
    config = load_config(site / "gateway.toml")
    assert config.server.listen == ("127.0.0.1:8000",)
    assert config.server.root == site.resolve()
    assert config.dev.reload is True
    assert config.dev.live_reload is True  # pages refresh on save from the first run
    assert [(m.prefix, m.dir) for m in config.static] == [("/", site.resolve() / "public")]
    assert [(r.path, r.handler) for r in config.routes] == [("/api/hello", "api.hello:hello")]


def test_the_starter_files(tmp_path: Path) -> None:
    init_site(tmp_path)
    config_text = (tmp_path / "gateway.toml").read_text()
    assert config_text.startswith("# gateway.toml")
    # A user's project has no docs/ folder: point at what the installed command offers.
    assert "docs/" not in config_text
    assert "gateway --help" in config_text
    assert tomllib.loads(config_text) == STARTER_CONFIG
    assert "[[static]]" in config_text and "[[route]]" in config_text
    page = (tmp_path / "public" / "index.html").read_text()
    assert "<style>" in page and 'fetch("/api/hello")' in page
    namespace: dict[str, object] = {}
    exec((tmp_path / "api" / "hello.py").read_text(), namespace)
    hello = namespace["hello"]
    assert callable(hello)
    assert hello(None) == {"message": "hello from gateway"}


def test_init_site_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "gateway.toml").write_text("# mine\n")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "hello.py").write_text("# mine too\n")
    with pytest.raises(FileExistsError) as caught:
        init_site(tmp_path)
    assert str(caught.value) == (
        f"will not overwrite {tmp_path / 'gateway.toml'}, {tmp_path / 'api' / 'hello.py'}"
    )
    assert (tmp_path / "gateway.toml").read_text() == "# mine\n"
    assert not (tmp_path / "public").exists()


def test_dump_config_round_trips_and_writes_arrays_of_tables_as_blocks() -> None:
    data: dict[str, object] = {
        "server": {"listen": ["127.0.0.1:8000"], "timeouts": {"header": "10s"}},
        "cors": {"app": {"allow_origins": ["*"]}},
        "static": [{"prefix": "/", "dir": "public", "cache": [{"match": "*", "control": "x"}]}],
        "route": [
            {"path": "/a", "respond": {"status": 200, "json": {"ok": True}}},
            {"path": "/b", "handler": "api.b:b", "headers": {"x-a": "1"}},
        ],
        "errors": {"404": "public/404.html"},
    }
    text = dump_config(data)
    assert tomllib.loads(text) == data
    assert text.count("[[route]]\n") == 2
    assert "[route.respond]" in text
    assert text.index("[server]") < text.index("[[static]]") < text.index("[errors]")
