"""Stopping on SIGINT/SIGTERM, and what the startup line says about the edit loop. Ctrl-C
must stop an idle server at once on every platform: the signal may land on any thread
(macOS picks one), so the loop's wake-up socket is the signal wake-up fd, and select
returns at once for the main thread to run the handler."""

from __future__ import annotations

import contextlib
import signal
from typing import TYPE_CHECKING

from gateway.config.schema import DevSpec

if TYPE_CHECKING:
    from gateway.server.serve import Server


def stop_on_signals(server: Server) -> None:
    """SIGINT and SIGTERM begin a graceful shutdown: idle connections close now, requests
    in flight finish (up to timeouts.shutdown). Call from the main thread."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: server.request_shutdown())
    try:
        old = signal.set_wakeup_fd(server.loop.wakeup_fd(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread: signals are not ours to take
        return

    def restore() -> None:  # before the loop closes its socket
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(old)

    server.on_shutdown.append(restore)


def dev_modes(dev: DevSpec, reload: bool) -> str:
    """'reload on, live reload off' for the startup line."""
    live = reload and dev.live_reload
    return f"reload {'on' if reload else 'off'}, live reload {'on' if live else 'off'}"
