"""While handler calls are on the pool, the server shortens the interpreter's switch
interval (serve.POOL_SWITCH_INTERVAL), so pool threads get the GIL during a long loop turn
instead of after it (the pooled p99); a tick with no pool call gives the process's own
interval back, and so does the server's end."""

from __future__ import annotations

import sys

from gateway.server.serve import POOL_SWITCH_INTERVAL
from tests.support import ResponseReader, connect, wait_for

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [server.timeouts]
    idle = "2s"

    [[route]]
    path = "/interval"
    handler = "api:interval"
    blocking = true
"""
API = """
import sys

def interval(request):
    return {"interval": sys.getswitchinterval()}
"""
HEAD = b"GET /interval HTTP/1.1\r\nHost: x\r\n\r\n"


def test_the_switch_interval_is_short_while_the_pool_works(site):
    original = sys.getswitchinterval()
    assert original != POOL_SWITCH_INTERVAL
    running = site(SITE, {"api.py": API})
    with connect(running.port) as sock:
        reader = ResponseReader(sock)

        def seen() -> bool:
            sock.sendall(HEAD)
            return reader.read().body == b'{"interval":%r}' % POOL_SWITCH_INTERVAL

        wait_for(seen, timeout=5)  # (the first call may start before the turn ends)
    # A tick (every 0.5 s here) with no pool call: the process's own interval again.
    wait_for(lambda: sys.getswitchinterval() == original, timeout=5)
    with connect(running.port) as sock:
        reader = ResponseReader(sock)
        wait_for(lambda: sock.sendall(HEAD) or b"0.001" in reader.read().body, timeout=5)
    running.server.loop.call_soon_threadsafe(running.server.request_shutdown)
    running.thread.join(10)
    assert sys.getswitchinterval() == original
