"""ClientBody: the client connection's side of a large proxied upload (a Content-Length body
on plain TCP): its 100 Continue sent once the upstream has the request head, its socket lent
to the exchange's splice (gateway.proxy.upsplice) and taken back, the body timeout and
min_body_rate kept meanwhile. HttpProtocol attaches one at the head."""

from __future__ import annotations

import logging
from typing import Any

from gateway.errors import HTTPError
from gateway.http.writer import CONTINUE
from gateway.proxy.splice import SPLICE_MIN
from gateway.proxy.zerocopy import plain_socket
from gateway.server.bodies import check_rate

log = logging.getLogger("gateway.proxy")

NEVER = float("inf")


def spliceable(conn: Any, head: Any) -> bool:
    """A body that may go upstream around the parser: a Content-Length of SPLICE_MIN or
    more, from a client on plain TCP (a TLS connection's bytes must pass the cipher)."""
    length = head.content_length
    return (
        not head.chunked
        and length is not None
        and length >= SPLICE_MIN
        and plain_socket(conn.transport) is not None
    )


def attach(conn: Any, driver: Any, head: Any) -> None:
    """Give the exchange `driver` just started for `head` (spliceable) this side."""
    exchange = driver.exchange
    side = exchange.client_body = ClientBody(conn, driver, head)
    if exchange.connected:  # a pooled connection: the head went upstream already
        exchange.upload_ready()
    elif side.continue_due:
        conn.deadline = NEVER  # the exchange's connect timeout runs until the 100 goes


class ClientBody:
    """See the module docstring; the methods are gateway.proxy.upsplice.ClientSide's."""

    __slots__ = (
        "base",
        "conn",
        "continue_due",
        "driver",
        "last",
        "length",
        "received",
        "splice",
        "started",
        "transport",
    )

    def __init__(self, conn: Any, driver: Any, head: Any) -> None:
        self.conn = conn
        self.driver = driver
        self.transport = conn.transport
        self.splice: bool = driver.call.target.rules.splice
        self.continue_due: bool = head.expect_continue
        self.length: int = head.content_length
        self.started = self.last = conn.ctx.loop.now  # the head; the last byte received
        self.base = 0  # body bytes the parser had passed on when the splice began
        self.received = 0  # spliced so far

    def ready(self) -> None:
        if self.continue_due:
            self.continue_due = False
            if not self.transport.is_closing():
                ctx = self.conn.ctx
                self.transport.write(CONTINUE)
                self.conn.deadline = ctx.loop.now + ctx.timeouts.body  # the body comes now

    def left(self) -> int:
        if not self.driver.uploading or self.transport.is_closing():
            return 0
        left: int = self.conn.parser.body_left()
        return left

    def take(self) -> None:
        self.transport.pause_reading()
        self.base = self.length - self.conn.parser.body_left()
        self.last = self.conn.ctx.loop.now

    def step(self, received: int, waits_on_client: bool) -> None:
        ctx = self.conn.ctx
        if received != self.received:
            now = self.last = ctx.loop.now
            self.received = received
            try:
                check_rate(self.base + received, self.started, now, ctx.app.config.server)
            except HTTPError as exc:
                self._refuse(exc)
                return
        # The client's body timeout runs only while the body waits for the client.
        self.conn.deadline = self.last + ctx.timeouts.body if waits_on_client else NEVER

    def give_back(self, count: int) -> None:
        ctx = self.conn.ctx
        self.conn.deadline = ctx.loop.now + ctx.timeouts.body
        self.conn.proxy_body_skipped(count)

    def lost(self, detail: str) -> None:
        log.warning(
            "request %s: proxy: %s; the upstream connection is dropped",
            self.driver.call.request.id,
            detail,
        )
        self.transport.abort()

    def _refuse(self, error: HTTPError) -> None:
        """408 for a body too slow, the upstream request dropped (as the server does for
        a body it reads itself); the connection closes after it."""
        driver = self.driver
        call = driver.call
        log.warning("request %s: proxy: %s", call.request.id, error.detail)
        driver.exchange.cancel()
        if driver.responder.status:  # the response began: it cannot be answered now
            self.transport.abort()
            return
        app = self.conn.ctx.app
        response = app.render_error(error.status, call.request, call.target, error.detail)
        self.conn.proxy_failed(call.request, response, False)
