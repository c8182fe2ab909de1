"""What remains after the loop has stopped: threads a handler started (not daemon) would keep
the process alive past `timeouts.shutdown`. They get what is left of that time to finish;
then the process exits anyway and logs which threads it left behind."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

log = logging.getLogger("gateway.server")


def stragglers(deadline: float) -> list[threading.Thread]:
    """The non-daemon threads (other than this one) still running at `deadline`
    (time.monotonic), waiting for each until then."""
    current = threading.current_thread()
    left = []
    for thread in threading.enumerate():
        if thread is current or thread.daemon or not thread.is_alive():
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            left.append(thread)
    return left


def report(left: list[threading.Thread]) -> None:
    """Log the threads the process is about to abandon."""
    names = ", ".join(repr(thread.name) for thread in left)
    log.warning(
        "exiting with %d thread(s) still running past timeouts.shutdown: %s "
        "(started by handlers? make them daemon threads or stop them)",
        len(left),
        names,
    )


def exit_now(status: int) -> None:
    """End the process with `status` without joining threads (Python's own exit would wait
    for each non-daemon thread, for ever); what is buffered is written first."""
    for handler in [*logging.getLogger().handlers, *log.handlers]:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
