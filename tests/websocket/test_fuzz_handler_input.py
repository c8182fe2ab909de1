"""What a websocket handler hands the connection is checked where the handler can see it:
text that cannot be UTF-8 (a lone surrogate) and a close code no endpoint may send (RFC 6455
7.4) raise at the handler's await with a message saying what would be right, instead of an
error on the server loop (the message silently lost) or an invalid close frame on the wire."""

from __future__ import annotations

import logging

import httpx
import pytest

pytest.importorskip("wsproto", reason="websocket routes need the websocket extra (wsproto)")

from tests.support import wait_for
from tests.websocket.test_fuzz_frames import Conn, close_payload, frame

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    timeouts = { shutdown = "1s" }

    [[route]]
    path = "/ws"
    websocket = "wsapi:careless"
    websocket_options = { ping_interval = false }

    [[route]]
    path = "/seen"
    handler = "wsapi:seen"
"""

API = """
SEEN = []


async def careless(ws):
    for attempt in (lambda: ws.send("\\ud800"), lambda: ws.close(999), lambda: ws.close(1006),
                    lambda: ws.close(2999), lambda: ws.close(5000), lambda: ws.send(b"ok")):
        try:
            await attempt()
        except (ValueError, UnicodeError) as error:
            SEEN.append(f"{type(error).__name__}: {error}")
    await ws.close(4000, "done")


def seen(request):
    return SEEN
"""


def test_bad_text_and_close_codes_raise_in_the_handler(site, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway")
    server = site(SITE, {"wsapi.py": API})
    conn = Conn(server, "/ws")
    assert conn.next_frame() == (0x2, b"ok")  # nothing else went out before it
    assert conn.next_frame() == (0x8, close_payload(4000, b"done"))
    conn.send(frame(0x8, close_payload(4000)))
    conn.sock.close()
    seen = wait_for(lambda: httpx.get(server.url + "/seen").json(), timeout=5)
    assert len(seen) == 5, seen
    assert seen[0].startswith("UnicodeEncodeError: ")
    assert seen[1] == (
        "ValueError: websocket close code 999 may not be sent: use 1000-1003, 1007-1014 "
        "or 3000-4999"
    )
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
