"""After timeouts.shutdown the process exits whatever threads a handler left running, and
logs which (issue 10, item 5)."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.cli.test_cli import serving
from tests.support import write_site

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    timeouts = { shutdown = "500ms" }

    [[route]]
    path = "/start"
    handler = "api.h:start"
"""

HANDLERS = """
    import threading

    def start(request):
        # Not a daemon (as a pool thread would make it), and it never ends: Python's own exit would wait for it for ever.
        threading.Thread(target=threading.Event().wait, name="left-behind", daemon=False).start()
        return "started"
"""


def test_process_exits_after_the_shutdown_timeout_despite_a_non_daemon_thread(
    tmp_path: Path,
) -> None:
    config = write_site(tmp_path, SITE, {"api/h.py": HANDLERS})
    with serving(config) as (process, url):
        assert httpx.get(url + "start").text == "started"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=8) == 0
        assert process.stderr is not None
        log = process.stderr.read()
        assert "still running past timeouts.shutdown: 'left-behind'" in log
