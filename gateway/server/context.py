"""ConnContext: the little of its server an HTTP connection needs (the current app, limits,
timeouts, the handler pool, the writer, the access log) instead of the whole Server. The
server owns one and updates it in place when a reloaded app brings new limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.app import App
    from gateway.config.schema import TimeoutsSpec
    from gateway.http.writer import ResponseWriter
    from gateway.log import AccessLog
    from gateway.server.loop import Loop
    from gateway.server.pool import HandlerPool


class ConnContext:
    """Shared by every connection of one server; only the loop thread changes it."""

    __slots__ = (
        "access_log",
        "answer_wait",
        "app",
        "forget",
        "loop",
        "next_request_id",
        "parser_limits",
        "pool",
        "shutting_down",
        "timeouts",
        "writer",
    )

    def __init__(
        self,
        *,
        app: App,
        loop: Loop,
        pool: HandlerPool,
        writer: ResponseWriter,
        access_log: AccessLog,
        timeouts: TimeoutsSpec,
        parser_limits: dict[str, int],
        next_request_id: Callable[[], str],
        forget: Callable[[Any], None],
    ) -> None:
        self.app = app
        self.loop = loop
        self.pool = pool
        self.writer = writer
        self.access_log = access_log
        self.timeouts = timeouts
        self.answer_wait = 0.0
        self.set_timeouts(timeouts)
        self.parser_limits = parser_limits
        self.next_request_id = next_request_id
        self.forget = forget  # the connection has closed: drop it from the server's set
        self.shutting_down = False

    def set_timeouts(self, timeouts: TimeoutsSpec) -> None:
        self.timeouts = timeouts
        # After an answer is queued: the soonest any of these could apply (connections
        # work out which one does when it comes, rather than after every send).
        self.answer_wait = min(timeouts.write, timeouts.idle, timeouts.header)
