"""Without wsproto, `gateway serve` says once that a websocket route answers 501, though it
builds its app twice at startup (the live-reload hub's build), and a reload says it no more."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import gateway.app
from gateway.wsroute import warn_missing_wsproto

REPO = Path(__file__).resolve().parents[2]
HIDDEN = "import sys; sys.modules['wsproto'] = None; from gateway.cli import main; main()"
WARNING = "route /ws/echo answers 501: websocket routes need wsproto"


def test_the_warning_is_given_once_per_route(monkeypatch, caplog) -> None:
    monkeypatch.setitem(sys.modules, "wsproto", None)  # import wsproto -> ImportError
    monkeypatch.setattr("gateway.wsroute._warned", set())
    log = logging.getLogger("gateway.app")
    with caplog.at_level(logging.WARNING, logger="gateway.app"):
        for _ in range(3):
            warn_missing_wsproto("gateway.toml", "/ws/echo", log)
        warn_missing_wsproto("gateway.toml", "/ws/other", log)
    assert caplog.text.count(WARNING) == 1
    assert caplog.text.count("route /ws/other answers 501") == 1
    monkeypatch.delitem(sys.modules, "wsproto")
    warn_missing_wsproto("other.toml", "/ws/echo", log)  # wsproto there: nothing to say
    assert caplog.text.count(WARNING) == 1


@pytest.mark.xfail(
    not hasattr(gateway.app, "warn_missing_wsproto"),
    reason="needs reports/handlers3-app.py.patch: app.py warns on every build",
    strict=True,
)
def test_gateway_serve_warns_once_at_startup() -> None:
    config = str(REPO / "gateway.toml")  # the demo config: reload and live reload on
    process = subprocess.Popen(
        [sys.executable, "-c", HIDDEN, "serve", "--config", config, "--listen", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        lines = []
        for line in process.stderr:  # up to the line that says it serves
            lines.append(line)
            if " serving " in line:
                break
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert any(" serving " in line for line in lines), lines
    assert sum(WARNING in line for line in lines) == 1, lines
