"""One proxied request run to its end on a private loop, for gateway.testing: the same
exchange as under `gateway serve` (balance, retries, timeouts, header policy) to the real
upstream, its answer collected whole. No pooling between calls and no upgrades."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gateway.proxy.runtime import Upstreams
from gateway.proxy.seams import Failure, Fields

LONGEST = 300.0  # a hard stop: the exchange's own timeouts normally end it long before


@dataclass
class Collected:
    """The Downstream of a one-shot exchange: what the client would have been sent."""

    status: int = 0
    reason: str = ""
    fields: Fields = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    failure: Failure | None = None
    aborted: bool = False
    done: bool = False
    transport: Any = None  # no client transport: nothing to splice to or cork
    keep_alive: bool = False  # one exchange, no connection to keep

    def pause_body(self) -> None:
        pass

    def resume_body(self) -> None:
        pass

    def informational(self, status: int, fields: Fields) -> None:
        pass  # a 100 or 103 before the answer: httpx would not show it either

    def start_response(self, status: int, reason: str, fields: Fields) -> None:
        self.status, self.reason, self.fields = status, reason, fields

    def response_data(self, data: bytes) -> None:
        self.body.append(data)

    def end_response(self, trailers: Fields | None) -> None:
        self.done = True

    def fail(self, failure: Failure) -> None:
        self.failure, self.done = failure, True

    def abort(self, failure: Failure) -> None:
        self.failure, self.aborted, self.done = failure, True, True

    def switch(self, status: int, reason: str, fields: Fields) -> tuple[Any, bytes]:
        self.failure = Failure(502, "an upgrade (101) cannot be tested in process")
        self.aborted = self.done = True
        return _Closed(), b""


class _Closed:
    """The client side of a tunnel that cannot exist in process: takes nothing."""

    def set_protocol(self, protocol: Any) -> None:
        pass

    def write(self, data: bytes | memoryview) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return False

    def is_closing(self) -> bool:
        return True

    def close(self) -> None:
        pass


def proxy_once(app: Any, call: Any, head: Any, body: bytes, client_ip: str) -> Collected:
    """Run `call` (a ProxyCall for the parsed request `head` and its whole `body`)."""
    from gateway.server.loop import Loop  # the real loop: sockets, timers, connect

    loop = Loop()
    loop.tick_interval = 0.05  # how soon run() looks at should_stop when nothing happens
    upstreams = Upstreams(loop)
    collected = Collected()
    try:
        upstreams.update(app.upstream_specs)
        exchange = upstreams.route(call.target).exchange(
            loop,
            head.method,
            head.target,
            head.headers,
            head.content_length,
            head.chunked,
            client_ip,
            "http",
            collected,
        )
        exchange.start()
        if body:
            exchange.body(body)
        exchange.end_body()
        stop = time.monotonic() + LONGEST
        loop.run(lambda: collected.done or time.monotonic() > stop)
        if not collected.done:
            exchange.cancel()
            collected.fail(Failure(504, f"no answer within {LONGEST:g}s"))
    finally:
        upstreams.close()
        loop.run_ready()  # connection_lost of what closed
        loop.close()
    return collected
