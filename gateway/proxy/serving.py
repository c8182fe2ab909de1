"""The proxy inside `gateway serve`: ProxyTarget (a compiled `proxy` route), ProxyCall (what
it answers: the App hands it to the connection) and ProxyDriver, which runs one exchange for
an HttpProtocol: the Responder's callbacks, backpressure relays and the access log line."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.errors import HTTPError
from gateway.proxy.call import ProxyCall
from gateway.proxy.responder import ClientSide
from gateway.proxy.runtime import Upstreams, resolve
from gateway.proxy.seams import Failure, Fields
from gateway.proxy.spec import Network, ProxySpec, UpstreamSpec
from gateway.request import build_request
from gateway.response import Response
from gateway.router.matcher import NoMatch
from gateway.targets import Target

if TYPE_CHECKING:
    from gateway.errors import ConfigIssue
    from gateway.proxy.exchange import ProxyExchange
    from gateway.request import Request
    from gateway.router.matcher import Match

log = logging.getLogger("gateway.proxy")


_NO_RULES = ProxySpec()
_NO_UPSTREAM = UpstreamSpec("", ())


@dataclass(frozen=True, slots=True, eq=False)
class ProxyTarget(Target):
    rules: ProxySpec = _NO_RULES
    upstream: UpstreamSpec = _NO_UPSTREAM  # resolved: server names looked up
    trusted: tuple[Network, ...] = ()

    def serve(self, request: Request, match: Match[Any]) -> ProxyCall:
        return ProxyCall(self, request)


def compile_proxy(
    rules: ProxySpec, upstreams: Any, trusted: tuple[Network, ...], common: dict[str, Any]
) -> ProxyTarget | list[ConfigIssue]:
    """The route's target, with its upstream's server names looked up (once, here, on the
    thread that builds the app), or the issues that stop it."""
    spec, problems = resolve(rules.upstream_spec(dict(upstreams)))
    if problems:
        return [rules.where.issue(message, "proxy") for message in problems]
    name = rules.upstream or str(rules.url)
    return ProxyTarget(f"proxy {name}", rules=rules, upstream=spec, trusted=trusted, **common)


def proxy_call_at_head(ctx: Any, head: Any, client: tuple[str, int]) -> ProxyCall | None:
    """The ProxyCall for a request whose body has not arrived, when a proxy route takes
    it; None for every other route (they are dispatched once the body is in)."""
    app = ctx.app
    try:
        request = build_request(head, b"", client, "")
        match = app.router.match(request.host, request.method, request.segments)
    except (HTTPError, NoMatch):
        return None
    if type(match.target) is not ProxyTarget:
        return None
    request.id = ctx.next_request_id()
    result = app.handle(request)
    return result if type(result) is ProxyCall else None


def upstream_specs(targets: list[ProxyTarget]) -> tuple[UpstreamSpec, ...]:
    """Every live upstream an app uses, once each (Upstreams.update keys them by value)."""
    return tuple({id(t.upstream): t.upstream for t in targets}.values())


class ProxyDriver(ClientSide):
    """One proxied request on one client connection, and the exchange's Downstream itself
    (its ClientSide hooks are its methods: no callbacks, one object per request). `conn` is
    the HttpProtocol: the driver calls its send_response, and its proxy_done(keep_alive) /
    proxy_failed() / proxy_switched()."""

    __slots__ = ("call", "conn", "exchange", "uploading")

    def __init__(self, conn: Any, call: ProxyCall, head: Any, keep_alive: bool) -> None:
        request = call.request
        ctx = conn.ctx
        target = call.target
        # Route headers and CORS only when the route has some: most proxy routes don't.
        decorates = True if target.headers else target.cors is not None
        super().__init__(
            conn.transport, ctx.writer, request.http_version, request.method, keep_alive, decorates
        )
        self.conn = conn
        self.call = call
        self.uploading = False  # the request body is still arriving (dispatched at its head)
        upstreams: Upstreams = ctx.upstreams
        route = upstreams.route(target)
        scheme = "https" if conn.secure else "http"  # (over [tls]: its connection_facts)
        self.exchange: ProxyExchange = route.exchange(
            ctx.loop,
            request.method,
            head.target,
            head.headers,
            head.content_length,
            head.chunked,
            conn.client[0],
            scheme,
            self,
        )
        self.exchange.client_timeout = ctx.timeouts.write

    @property
    def responder(self) -> ProxyDriver:
        """What writes the client's response (the HttpProtocol reads its status)."""
        return self

    def start(self, body: bytes | None) -> None:
        """Begin; `body` is the whole request body, or None when it follows (body())."""
        exchange = self.exchange
        exchange.start()
        if body is None:
            return
        if body:
            exchange.body(body)
        if not exchange.body_done:  # (a body-less request's is done from the start)
            exchange.end_body()

    # -- the ClientSide hooks -------------------------------------------------------------

    def decorate(self, fields: Fields) -> Fields:
        # The route's headers and CORS (Target.finish), not App.finish: a proxied body
        # streams by as the upstream encoded it (no compression, no live-reload filter).
        call = self.call
        response = Response(200, b"", list(fields))
        return list(call.target.finish(call.request, response).headers)

    def on_error(self, failure: Failure) -> None:
        call = self.call
        log.error("request %s: proxy: %s", call.request.id, failure.detail)
        headers = [] if failure.retry_after is None else [("retry-after", str(failure.retry_after))]
        app = self.conn.ctx.app
        detail = f"{failure.detail} (request id {call.request.id})"
        response = app.render_error(failure.status, call.request, call.target, detail, headers)
        ex = self.exchange
        # Read by the access log's next line (the one for this request), then forgotten.
        self.conn.ctx.access_log.upstream = (ex.server, ex.upstream_status, ex.upstream_time)
        self._unlink()
        self.conn.proxy_failed(call.request, response, self.keep_alive)

    def on_done(self, keep_alive: bool) -> None:
        ex, conn = self.exchange, self.conn
        access_log = conn.ctx.access_log
        if access_log.enabled:
            # Read by the access log's line for this request, then forgotten.
            access_log.upstream = (ex.server, ex.upstream_status, ex.upstream_time)
            access_log(self.call.request, self.status or 502, self.sent, conn.client)
        del self.exchange  # _unlink(), inline
        conn.proxy_done(keep_alive)

    def on_switch(self) -> bytes:
        return self.conn.proxy_switched()  # type: ignore[no-any-return]

    def _unlink(self) -> None:
        """Break the driver <-> exchange cycle (the exchange's downstream is the driver),
        so a finished request's objects are freed by reference counting, not left to the
        cyclic GC (whose collections showed as latency spikes). The connection has let go
        of the driver by then, and nothing calls the exchange through it any more."""
        del self.exchange
