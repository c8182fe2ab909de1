"""ConnContext: the little of its server an HTTP connection needs (the current app, limits,
timeouts, the handler pool, the writer, the access log, the ops counters) instead of the whole
Server. The server owns one and updates it in place when a reloaded app brings new limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.metrics import Ops
from gateway.server.bodies import BodyBudget

if TYPE_CHECKING:
    from gateway.app import App
    from gateway.config.schema import TimeoutsSpec
    from gateway.http.parser import RequestParser
    from gateway.http.writer import ResponseWriter
    from gateway.log import AccessLog
    from gateway.proxy.runtime import Upstreams
    from gateway.server.loop import Loop
    from gateway.server.pool import HandlerPool
    from gateway.server.responses import ResponseCache


class ConnContext:
    """Shared by every connection of one server; only the loop thread changes it."""

    __slots__ = (
        "access_log",
        "answer_wait",
        "app",
        "bodies",
        "body_limits",
        "crowded",
        "forget",
        "loop",
        "next_request_id",
        "ops",
        "parser_limits",
        "parsers",
        "pool",
        "request_id_header",
        "responses",
        "shutting_down",
        "timeouts",
        "tls",
        "upstreams",
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
        ops: Ops | None = None,
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
        self.parsers: list[RequestParser] = []  # at rest, for connections that get bytes
        self.crowded = False  # over CROWDED connections: idle ones give their parser back
        self.body_limits: dict[str, int] | None = None  # route label -> its max_body_bytes
        self.bodies = BodyBudget(1 << 30)  # request bodies being received; [server] body_budget
        self.next_request_id = next_request_id
        self.forget = forget  # the connection has closed: drop it from the server's set
        self.shutting_down = False
        self.responses: ResponseCache | None = None  # answers kept by request head
        self.tls: Any = None  # gateway.tls.site.TlsSite with [tls], else None
        self.request_id_header: str | None = None  # [server] request_id_header
        self.ops = (
            ops if ops is not None else Ops(None)
        )  # metrics, health, ready: answer() before routing, observe() per answer
        self.upstreams: Upstreams | None = None  # the proxy's, made by the server's loop

    def set_timeouts(self, timeouts: TimeoutsSpec) -> None:
        self.timeouts = timeouts
        # After an answer is queued: the soonest any of these could apply (connections
        # work out which one does when it comes, rather than after every send).
        self.answer_wait = min(timeouts.write, timeouts.idle, timeouts.header)
