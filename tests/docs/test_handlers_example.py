"""docs/handlers.md's first example, run: its route and its module (written where its first
line says, under the site root) answer as its comments say: 200 with JSON, 404 for an
unknown id, 204 for a DELETE, then 404."""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.testing import Transport
from tests.docs.markdown import DOCS, blocks

PAGE = DOCS / "handlers.md"


def test_the_first_example_answers_as_its_comments_say(tmp_path: Path) -> None:
    config, module = [b for b in blocks(PAGE) if b.lang in ("toml", "python")][:2]
    assert config.lang == "toml" and module.lang == "python"
    named = module.text.splitlines()[0].removeprefix("# ").removeprefix("sites/demo/")
    (tmp_path / named).parent.mkdir(parents=True)
    (tmp_path / named).write_text(module.text)
    (tmp_path / "gateway.toml").write_text(config.text)
    app = build_app(load_config(tmp_path / "gateway.toml", environ={}))
    with httpx.Client(transport=Transport(app), base_url="http://test") as client:
        found = client.get("/api/users/1")
        assert (found.status_code, found.json()) == (200, {"id": 1, "name": "ada"})
        assert client.get("/api/users/2").status_code == 404
        assert client.delete("/api/users/1").status_code == 204
        assert client.get("/api/users/1").status_code == 404
