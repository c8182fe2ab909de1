"""RequestUpload: the client's request body on its way upstream (ProxyExchange's base): encoded,
held while the upstream cannot take it (the client paused past PENDING_LIMIT), kept for a replay;
a large one spliced socket to socket once the upstream takes it (gateway.proxy.upsplice)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.proxy import upsplice
from gateway.proxy.connection import UpstreamConnection
from gateway.proxy.headers import trailer_fields
from gateway.proxy.request import PENDING_LIMIT, Sent
from gateway.proxy.seams import Downstream, LoopLike
from gateway.proxy.wire import BodyEncoder

if TYPE_CHECKING:
    from gateway.proxy.upsplice import ClientSide
    from gateway.proxy.zerocopy import BodySplice


class RequestUpload:
    """The request-body half of ProxyExchange (its base class): body() / end_body() from
    the client side, on_upstream_full() / on_upstream_drained() from the connection. The
    exchange provides the attributes annotated below and calls _flush_pending() once its
    head is written, upload_ready() after that, and stop_upload() when it ends.

    `client_body` is set by the client side when the body may go around it (a large
    Content-Length from a plain-TCP client: gateway.server.proxybody); the exchange then
    splices the rest once the upstream path is clear (upsplice.begin)."""

    # deadline is the exchange's (see there); here because every write moves it too
    __slots__ = (
        "body_done",
        "body_paused",
        "client_body",
        "deadline",
        "encoder",
        "pending",
        "pending_size",
        "sent",
        "upload_due",
        "upload_splice",
        "upstream_full",
    )

    conn: UpstreamConnection | None
    connected: bool
    done: bool
    downstream: Downstream
    loop: LoopLike
    started: bool
    timeout: float
    upgrade: str | None

    def __init__(self, chunked: bool, has_body: bool) -> None:
        self.encoder = BodyEncoder(chunked) if chunked else None
        self.sent: Sent | None = None  # request body sent on this connection (for a replay)
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.body_done = not has_body
        self.body_paused = False  # we paused the client's body
        self.upstream_full = False
        self.client_body: ClientSide | None = None
        self.upload_splice: BodySplice | None = None
        self.upload_due = False  # upsplice.begin is scheduled (call_soon)

    def body(self, data: bytes) -> None:
        if self.done or not data:
            return
        encoded = data if self.encoder is None else self.encoder.data(data)
        if self.connected and not self.upstream_full and not self.pending:
            self._write_body(encoded)
            if self.client_body is not None:
                self._offer_splice()
            return
        self.pending.append(encoded)
        self.pending_size += len(encoded)
        if self.pending_size > PENDING_LIMIT and not self.body_paused:
            self.body_paused = True
            self.downstream.pause_body()

    def end_body(self, trailers: list[tuple[str, str]] | None = None) -> None:
        if self.done or self.body_done:
            return
        self.body_done = True
        tail = None if self.encoder is None else self.encoder.end(trailer_fields(trailers))
        if tail:
            self._queue_raw(tail)

    def on_upstream_full(self) -> None:
        self.upstream_full = True
        if not self.body_paused and not self.body_done:
            self.body_paused = True
            self.downstream.pause_body()

    def on_upstream_drained(self) -> None:
        self.upstream_full = False
        self._flush_pending()

    def _flush_pending(self) -> None:
        if not self.connected or self.upstream_full:
            return
        pending, self.pending, self.pending_size = self.pending, [], 0
        for piece in pending:
            self._write_body(piece)
        if self.body_paused and not self.upstream_full:
            self.body_paused = False
            self.downstream.resume_body()
        if self.client_body is not None:
            self._offer_splice()

    def upload_ready(self) -> None:
        """The upstream request head is written (the exchange's hook): a 100 Continue the
        client waits for may go now, and a large body may be spliced."""
        side = self.client_body
        if side is not None and not self.done:
            side.ready()
            self._offer_splice()

    def stop_upload(self) -> None:
        """The exchange ended (answered, failed, cancelled): a splice in progress stops."""
        splice, self.upload_splice = self.upload_splice, None
        if splice is not None:
            splice.cancel()

    def _offer_splice(self) -> None:
        side = self.client_body
        if side is None or not side.splice:
            return  # only a 100 Continue to send (splice = false), or no splice possible
        if not self.upload_due and self.upload_splice is None and not self.body_done:
            self.upload_due = True
            self.loop.call_soon(self._begin_splice)

    def _begin_splice(self) -> None:
        self.upload_due = False
        upsplice.begin(self)

    def _queue_raw(self, data: bytes) -> None:
        if self.connected and not self.upstream_full and not self.pending:
            self._write_body(data)
        else:
            self.pending.append(data)
            self.pending_size += len(data)

    def _write_body(self, data: bytes) -> None:
        assert self.conn is not None
        sent = self.sent
        if sent is None:
            sent = self.sent = Sent()
        sent.add(data)
        self.conn.write(data)
        self.deadline = self.loop.now + self.timeout
