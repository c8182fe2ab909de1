"""ExchangeFailures: how a ProxyExchange (its subclass) ends other than with a response
relayed: a broken or stale upstream connection, a retry where that is safe, the deadline
sweep's timeouts, a Failure (502/503/504) answered, a started response aborted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.proxy.deadlines import Deadlines
from gateway.proxy.pool import Upstream
from gateway.proxy.request import IDEMPOTENT, ProxyRequest
from gateway.proxy.seams import Failure
from gateway.proxy.upload import RequestUpload
from gateway.proxy.zerocopy import BodySplice


class ExchangeFailures(RequestUpload):
    """The failure half of ProxyExchange (its base class, as RequestUpload is this one's):
    the connection's on_broken(), the Deadlines sweep's on_deadline(), abort_started() from
    a zero-copy relay; _no_server(), _retry_or_fail() and _fail() for the exchange. The
    exchange provides the attributes annotated below, _attempt() and _end()."""

    # connected, done and index are the exchange's (see there); here because a failure
    # sets them too
    __slots__ = ("connected", "done", "index", "last_failure", "retries_left", "splice_seen")

    connected: bool
    done: bool
    index: int
    last_failure: Failure | None
    retries_left: int
    splice_seen: int  # a zero-copy relay's bytes moved when the sweep last looked

    client_timeout: float
    deadlines: Deadlines
    request: ProxyRequest
    response_paused: bool
    server: str
    splice: BodySplice | None
    upstream: Upstream

    if TYPE_CHECKING:  # the exchange's own (exchange.py)

        def _attempt(self, fresh: bool = False) -> None: ...
        def _end(self) -> None: ...

    # -- the upstream connection's reports ------------------------------------------------

    def on_broken(self, what: str, bad_response: bool = False) -> None:
        if self.done:
            return
        conn = self.conn
        server = self.upstream.names[self.index]
        failure = Failure(
            502, f"upstream {self.upstream.spec.name!r} server {server}: {what}", server
        )
        if self.started:
            self._end()
            self.upstream.health.failed(self.index, self.loop.now)
            self.downstream.abort(failure)
            return
        # A pooled connection the server had quietly closed: one more try on a new one.
        stale = conn is not None and conn.reused and conn.response_bytes == 0 and not bad_response
        if stale and (self.sent is None or self.sent.replayable):
            self._attempt(fresh=True)
            return
        self.upstream.health.failed(self.index, self.loop.now)
        if bad_response:  # it did answer: another server might act on the request again
            self._give_up(failure)
            return
        self._retry_or_fail(failure, nothing_sent=not self.connected)

    def _retry_or_fail(self, failure: Failure, nothing_sent: bool) -> None:
        request = self.request
        safe = nothing_sent or (request.method in IDEMPOTENT and not request.has_body)
        self.upstream.pools[self.index].active -= 1
        self.last_failure = failure
        if safe and self.retries_left > 0 and (self.sent is None or self.sent.replayable):
            self.retries_left -= 1
            self.connected = False
            self._attempt(fresh=False)
            return
        self.index = -1
        self._fail(failure)

    # -- timing -------------------------------------------------------------------------

    def on_deadline(self, now: float) -> None:
        """The Deadlines sweep found the deadline passed."""
        splice = self.splice
        if self.done:
            self.deadlines.forget(self)
        elif splice is not None:
            limit = self.client_timeout if splice.waits_on_client else self.timeout
            if splice.moved == self.splice_seen:  # no byte moved since the last look
                self.abort_started(f"zero-copy relay made no progress for {limit:g}s")
            self.splice_seen = splice.moved
            self.deadline = now + limit
        elif self.response_paused:
            # A client that reads slowly (response paused) is not the upstream's fault.
            self.deadline = now + self.timeout
        else:
            self._timed_out()

    def _timed_out(self) -> None:
        conn = self.conn
        up = self.upstream
        server = up.names[self.index]
        where = f"upstream {up.spec.name!r} server {server}"
        if conn is not None:
            conn.close()
        if not self.connected:
            failure = Failure(
                504, f"{where}: connect timed out after {up.spec.connect_timeout:g}s", server
            )
            up.health.failed(self.index, self.loop.now)
            self._retry_or_fail(failure, nothing_sent=True)
            return
        failure = Failure(504, f"{where}: no response within {self.timeout:g}s", server)
        up.health.failed(self.index, self.loop.now)
        if self.started:
            self._end()
            self.downstream.abort(failure)
        else:
            self._give_up(failure)  # a read timeout is not retried: the client waited already

    # -- endings ------------------------------------------------------------------------

    def _give_up(self, failure: Failure) -> None:
        self.upstream.pools[self.index].active -= 1
        self.index = -1
        self._fail(failure)

    def _no_server(self) -> None:
        up = self.upstream
        if self.last_failure is not None:
            self._fail(self.last_failure)
        elif not up.health.up(self.loop.now):
            wait = up.health.retry_after(self.loop.now)
            detail = f"upstream {up.spec.name!r}: every server is down; try again in {wait}s"
            self._fail(Failure(503, detail, retry_after=wait))
        else:  # pragma: no cover - a fresh exchange always finds a candidate when one is up
            self._fail(Failure(502, f"upstream {up.spec.name!r}: no server to try"))

    def _fail(self, failure: Failure) -> None:
        self.done = True
        self.deadlines.forget(self)
        self.stop_upload()  # (upload.py) an upload splice stops
        if self.body_paused:
            self.body_paused = False
            self.downstream.resume_body()  # so the server can read (and drop) the rest
        self.downstream.fail(failure)

    def abort_started(self, what: str, upstream: bool = False) -> None:
        """The response began and cannot be finished: close both connections (the client
        sees a cut body); `upstream` counts it as the server's failure."""
        if upstream:
            self.upstream.health.failed(self.index, self.loop.now)
        self._end()
        if self.conn is not None:
            self.conn.close()
        self.downstream.abort(Failure(502, what, self.server))
