"""gc.freeze() before serving keeps the collector's full passes off the app and its modules
(the p99), but frozen objects are never collected: an app swapped out by a reload must
still be freed once its requests are over, its reference cycles included."""

from __future__ import annotations

import gc
import weakref

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.server.run import keep_frozen
from tests.support import running_server, wait_for, write_site

CONFIG = """
[server]
access_log = "off"
timeouts = { handler = "100ms" }

[[route]]
path = "/a"
respond = { status = 200, body = "a" }
"""


def test_an_app_swapped_out_after_the_freeze_is_freed(tmp_path):
    config = write_site(tmp_path, CONFIG)

    def swap_to(server, app):
        server.loop.call_soon_threadsafe(lambda: server.swap_app(app))
        wait_for(lambda: server.app is app)

    try:
        with running_server(config) as running:  # (its generator holds the first app)
            server = running.server
            serving = build_app(load_config(config))
            serving.cycle = serving  # type: ignore[attr-defined]  # only a full pass frees it
            swap_to(server, serving)
            keep_frozen(server)  # as serve_single does before serving: `serving` is frozen
            gone = weakref.ref(serving)
            del serving
            swap_to(server, build_app(load_config(config)))  # a reload
            wait_for(lambda: gone() is None, timeout=10)
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
