"""ProxyExchange: one request proxied to an upstream. It picks a server (balance, health),
takes a pooled connection or opens one, streams the request body up and the response back
with backpressure both ways, retries where that is safe, and ends in exactly one of: a
response relayed, a Failure (502/503/504) answered, a client connection aborted, a tunnel."""

from __future__ import annotations

from collections.abc import Callable

from gateway.proxy import headers as policy
from gateway.proxy import zerocopy
from gateway.proxy.connection import UpstreamConnection
from gateway.proxy.deadlines import Deadlines
from gateway.proxy.failures import ExchangeFailures
from gateway.proxy.pool import Upstream
from gateway.proxy.request import SPENT, ProxyRequest
from gateway.proxy.seams import Downstream, Failure, LoopLike, ParserLike, ResponseHeadLike
from gateway.proxy.spec import ProxySpec
from gateway.proxy.splice import SPLICE_MIN
from gateway.proxy.tunnel import Tunnel, open_tunnel
from gateway.proxy.wire import request_head, strip_target
from gateway.proxy.zerocopy import BodySplice


class ProxyExchange(ExchangeFailures):
    """Drive with start(); feed the client's body with body()/end_body() (RequestUpload);
    relay the client side's backpressure with pause_response()/resume_response(); cancel()
    if the client goes away. Results go to `downstream`. Failures, retries and timeouts are
    its base ExchangeFailures' (failures.py)."""

    __slots__ = (
        "began",
        "client_timeout",
        "conn",
        "deadlines",
        "downstream",
        "involved",
        "keep_alive",
        "loop",
        "parser_factory",
        "request",
        "response_paused",
        "rules",
        "server",
        "splice",
        "started",
        "target",
        "timeout",
        "tried",
        "tunnel",
        "upgrade",
        "upstream",
        "upstream_status",
        "upstream_time",
    )

    def __init__(
        self,
        loop: LoopLike,
        upstream: Upstream,
        rules: ProxySpec,
        request: ProxyRequest,
        downstream: Downstream,
        parser_factory: Callable[[], ParserLike],
    ) -> None:
        self.loop = loop
        self.upstream = upstream
        self.rules = rules
        self.request = request
        self.downstream = downstream
        self.parser_factory = parser_factory
        super().__init__(request.chunked, request.chunked or bool(request.content_length))
        self.timeout = rules.timeout or upstream.spec.read_timeout
        # How long a client may take no bytes (the server's write timeout), where the
        # exchange writes around the client transport (zerocopy): set by the server side.
        self.client_timeout = self.timeout
        headers = request.headers
        # Connection or Via in the request: the general header path (an upgrade is asked for
        # with Connection: upgrade, so none is without it).
        self.involved = headers.has_any(policy.INVOLVED)
        self.upgrade = (
            policy.requested_upgrade(headers.items(), rules.upgrades)
            if self.involved and rules.upgrades
            else None
        )
        prefix = rules.strip_prefix
        self.target = strip_target(request.target, prefix) if prefix else request.target
        self.tried: list[int] = []
        self.retries_left = rules.retries
        self.index = -1
        self.conn: UpstreamConnection | None = None
        self.connected = False
        self.response_paused = False
        self.started = False  # the response head went to the client
        self.keep_alive = False
        self.done = False
        self.last_failure: Failure | None = None
        # The one timeout in force (connect, or read), as a loop time: moved by a store on
        # every read; the upstream's Deadlines sweep finds it passed (no timer per request).
        self.deadline = 0.0
        deadlines = upstream.deadlines
        if deadlines is None:
            deadlines = upstream.deadlines = Deadlines(loop)
        self.deadlines = deadlines
        self.tunnel: Tunnel | None = None
        self.splice: BodySplice | None = None  # the body going kernel to kernel (zerocopy)
        self.splice_seen = 0  # its bytes moved when the deadline sweep last looked
        # For the access log: the server that answered (or last failed), its status, and
        # seconds from the start to its response head.
        self.began = loop.now
        self.server = ""
        self.upstream_status: int | None = None
        self.upstream_time: float | None = None

    # -- the client side's calls ----------------------------------------------------------

    def pause_response(self) -> None:
        """The client's transport is over high water: stop reading the upstream."""
        self.response_paused = True
        if self.conn is not None and self.conn.transport is not None and self.splice is None:
            self.conn.transport.pause_reading()

    def resume_response(self) -> None:
        self.response_paused = False
        conn = self.conn
        if (
            conn is not None
            and conn.transport is not None
            and not self.done
            and self.splice is None
        ):
            conn.transport.resume_reading()
            self.deadline = self.loop.now + self.timeout

    def cancel(self) -> None:
        """The client went away: drop the upstream connection (its response is unwanted)."""
        if self.done:
            return
        self._end()
        if self.conn is not None:
            self.conn.close()

    # -- choosing and connecting ----------------------------------------------------------

    def _attempt(self, fresh: bool = False) -> None:
        """Send the request to a server: the same one on a fresh connection (`fresh`, after
        a stale pooled one failed), else the next the balancer picks."""
        up, now = self.upstream, self.loop.now
        if not fresh:
            if up.single:  # pick()'s first case, inline: the one server, if up and untried
                index = None if self.tried or not up.health.is_up(0, now) else 0
            else:
                index = up.pick(now, self.tried, self.request.client.ip, self.request.headers)
            if index is None:
                self._no_server()
                return
            self.tried.append(index)
            self.index = index
            self.server = up.names[index]
            pool = up.pools[index]
            pool.active += 1
            if pool.active > pool.peak:
                pool.peak = pool.active
        pool = up.pools[self.index]
        conn = None if fresh else pool.take(now)
        self.connected = conn is not None
        hold = self.downstream
        if conn is None:
            conn = UpstreamConnection(pool.server, self.parser_factory())
            conn.begin(self, self.request.method, hold)
            self.conn = conn
            connect_timeout = up.spec.connect_timeout
            self.deadline = now + connect_timeout
            self.deadlines.watch(self, min(connect_timeout, self.timeout))
            protocol = up.protocol_for(pool.server, conn)
            conn.dialing = self.loop.connect(pool.server.connect_to, lambda: protocol)
            return
        conn.begin(self, self.request.method, hold)
        self.conn = conn
        self.deadlines.watch(self, self.timeout)
        self._send_head()

    start = _attempt  # the first attempt (one call less than a wrapper)

    def on_connected(self) -> None:
        self.connected = True
        self._send_head()

    def _send_head(self) -> None:
        conn = self.conn
        assert conn is not None
        request = self.request
        head = (
            policy.upstream_head(
                request.method,
                self.target,
                request.headers,
                request.client,
                self.rules,
                conn.server,
                involved=False,
            )
            if request.content_length is None and not request.chunked and not self.involved
            else None
        )
        if head is None:  # a body, an upgrade, or more than the common request's fields
            fields = policy.upstream_fields(
                request.headers, request.client, self.rules, conn.server, self.upgrade
            )
            if request.chunked:
                fields.append(("transfer-encoding", "chunked"))
            elif request.content_length is not None:  # 0 too: some servers want one on a POST
                fields.append(("content-length", str(request.content_length)))
            head = request_head(request.method, self.target, fields)
        if conn.transport is not None:  # (conn.write, one call less)
            conn.transport.write(head)
        if self.sent is not None:  # a retry replays what the failed attempt sent
            for piece in self.sent.pieces:
                conn.write(piece)
        self.deadline = self.loop.now + self.timeout
        if self.pending:
            self._flush_pending()
        if self.client_body is not None:  # (upload.py) a 100 Continue, an upload splice
            self.upload_ready()

    # -- the upstream connection's reports ------------------------------------------------

    def on_head(self, head: ResponseHeadLike) -> None:
        self.deadline = self.loop.now + self.timeout
        if head.status >= 200 or head.status == 101:
            self.upstream_status = head.status
            self.upstream_time = self.loop.now - self.began
        if head.status == 101:
            self._switch(head)
            return
        fields = policy.response_fields(head.headers.items(), self.rules, upgraded=False)
        if head.status < 200:
            self.downstream.informational(head.status, fields)
            return
        self.started = True
        self.sent = SPENT
        self.upstream.health.succeeded(self.index)
        self.keep_alive = head.keep_alive
        if not self.body_done:  # an early answer: the rest of the client's body goes unread
            self.downstream.keep_alive = False  # so the head says `connection: close`
        self.downstream.start_response(head.status, head.reason, fields)
        length = head.content_length
        if length is not None and length >= SPLICE_MIN and self.rules.splice:
            zerocopy.offer(self, length)

    takes_whole = True  # UpstreamConnection may call on_whole (see there)

    def on_whole(self, head: ResponseHeadLike, body: bytes) -> None:
        """The common case in one call: a final response (no 101: the parser leaves those
        to on_head) whose head and whole body came in one read. What on_head, on_data and
        on_end do, with one write to the client (Responder.whole_response)."""
        now = self.loop.now
        status = head.status
        self.upstream_status = status
        self.upstream_time = now - self.began
        self.started = True
        self.sent = SPENT
        self.upstream.health.succeeded(self.index)
        self.keep_alive = keep_alive = head.keep_alive
        conn = self.conn
        assert conn is not None
        self._end()
        if conn.finish(now, keep_alive and self.body_done and not self.pending):
            self.upstream.pools[self.index].put(conn, now)
        fields, length = policy.client_fields(head, self.rules)
        downstream = self.downstream
        if not self.body_done:  # an early answer (as on_head)
            downstream.keep_alive = False
        whole = getattr(downstream, "whole_response", None)
        if whole is not None:
            whole(status, fields, length, body)
            return
        downstream.start_response(status, head.reason, list(fields))
        if body:
            downstream.response_data(body)
        downstream.end_response(None)

    def on_data(self, data: bytes) -> None:
        self.deadline = self.loop.now + self.timeout
        self.downstream.response_data(data)

    def on_end(self, trailers: list[tuple[str, str]] | None) -> None:
        conn = self.conn
        assert conn is not None
        self._end()
        pool = self.upstream.pools[self.index]
        # A request not all sent leaves the server reading it: that connection is done too.
        reusable = self.keep_alive and self.body_done and not self.pending
        if conn.finish(self.loop.now, reusable):
            pool.put(conn, self.loop.now)
        self.downstream.end_response(trailers)

    # -- endings ------------------------------------------------------------------------

    def _end(self) -> None:
        if self.done:
            return
        self.done = True
        self.deadlines.forget(self)
        self.stop_upload()  # (upload.py) an upload splice stops
        if self.index >= 0:
            self.upstream.pools[self.index].active -= 1
        if self.splice is not None:
            self.splice.cancel()
            self.splice = None

    def _switch(self, head: ResponseHeadLike) -> None:
        if self.upgrade is None:
            assert self.conn is not None
            self.conn.close()
            self.on_broken("switched protocols without being asked to", bad_response=True)
            return
        self.done = True
        self.deadlines.forget(self)
        self.upstream.health.succeeded(self.index)
        self.tunnel = open_tunnel(self, head)
