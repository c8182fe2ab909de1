"""docs/quickstart.md followed literally, in a copy of the demo site: its `$ curl` exchanges
(status line, the headers shown, the body) against a real server on 127.0.0.1:0, then the
steps that add a fixed response and a handler (the page's own toml and python blocks
appended and written where it says), `gateway check` (its ok line, and the error after
the misspelling it describes) and `gateway routes` (the rows it shows)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import httpx
import pytest

from gateway.cli import main
from gateway.config.load import load_config
from tests.docs.markdown import DOCS, REPO, Block, blocks, sections
from tests.support import running_server

QUICKSTART = DOCS / "quickstart.md"


def step(title: str) -> list[Block]:
    found = [s for s in sections(QUICKSTART) if s.title.startswith(title)]
    assert found, f"quickstart.md has no section {title!r}"
    return found[0].blocks


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's gateway.toml and sites/demo, after steps 3 and 4: each toml block
    appended as an editor would (after a blank line), the python block written to the file
    the step names."""
    shutil.copy(REPO / "gateway.toml", tmp_path / "gateway.toml")
    shutil.copytree(REPO / "sites" / "demo", tmp_path / "sites" / "demo")
    config = tmp_path / "gateway.toml"
    for title in ("3.", "4."):
        for block in step(title):
            if block.lang == "toml":
                config.write_text(config.read_text() + "\n" + block.text)
    section = next(s for s in sections(QUICKSTART) if s.title.startswith("4."))
    named = re.search(r"Create\s+`([^`]+\.py)`", "\n".join(section.lines))
    assert named, "step 4 names the handler's file"
    python = [block for block in section.blocks if block.lang == "python"]
    (tmp_path / named.group(1)).write_text(python[0].text)
    monkeypatch.chdir(tmp_path)
    for name in ("PORT", "GATEWAY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return config


def exchanges() -> list[tuple[str, list[str]]]:
    """(curl command, the lines shown after it) for each `$ curl` of the page."""
    found = []
    for block in blocks(QUICKSTART):
        if block.lang != "sh":
            continue
        current: list[str] | None = None
        for line in block.text.splitlines():
            if line.startswith("$ "):
                current = []
                found.append((line[2:], current))
            elif current is not None:
                current.append(line)
    return [(command, lines) for command, lines in found if command.startswith("curl ")]


def test_each_curl_gets_what_the_page_shows(site: Path) -> None:
    shown = exchanges()
    assert len(shown) >= 5
    with running_server(site) as server, httpx.Client() as client:
        for command, lines in shown:
            words = shlex.split(command.split("  #")[0])
            url = words[-1].replace("http://127.0.0.1:8000", server.url)
            method = words[words.index("-X") + 1] if "-X" in words else "GET"
            data = words[words.index("-d") + 1] if "-d" in words else None
            reply = client.request(method, url, content=data)
            while lines and not lines[-1]:
                lines.pop()
            # A body's final newline shows in a terminal only as where the prompt goes.
            if "-i" not in words:
                assert "\n".join(lines) == reply.text.rstrip("\n"), command
                continue
            status = f"HTTP/1.1 {reply.status_code} {reply.reason_phrase}"
            assert lines[0] == status, command
            head, _, body = "\n".join(lines[1:]).partition("\n\n")
            for field in filter(None, head.splitlines()):
                name, _, value = field.partition(": ")
                assert reply.headers.get(name) == value, (command, field)
            if body:
                assert body == reply.text.rstrip("\n"), command


def shown_after(command: str, nth: int = 0) -> list[str]:
    """The lines the page shows after its `nth` `$ <command>`."""
    outputs = []
    for block in blocks(QUICKSTART):
        lines = block.text.splitlines()
        if lines and lines[0] == f"$ {command}":
            outputs.append(lines[1:])
    return outputs[nth]


def test_gateway_check_says_ok_then_names_the_misspelling(site: Path, capsys) -> None:
    assert main(["check"]) == 0
    assert capsys.readouterr().out.splitlines() == shown_after(".venv/bin/gateway check")
    site.write_text(site.read_text().replace("api.users:get_user", "api.users:get_usr"))
    assert main(["check"]) == 1
    printed = capsys.readouterr().err.splitlines()
    # The wsproto warning of a plain install comes and goes with the websocket extra.
    printed = [line for line in printed if "needs wsproto" not in line]
    assert printed == shown_after(".venv/bin/gateway check", 1)


def test_gateway_routes_shows_these_rows(site: Path, capsys) -> None:
    assert main(["routes"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    shown = [line.split() for line in shown_after(".venv/bin/gateway routes") if line != "..."]
    assert shown and all(row in rows for row in shown), (shown, rows)


def test_gateway_init_writes_what_the_page_says(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "mysite"]) == 0
    assert capsys.readouterr().out.splitlines() == shown_after(".venv/bin/gateway init mysite")
    config = load_config("mysite/gateway.toml", environ={})
    assert config.server.root == (tmp_path / "mysite").resolve()  # "sets no root"
    assert config.dev.reload and config.dev.live_reload
    assert main(["init", "mysite"]) == 1  # "refuses to overwrite any file that exists"
