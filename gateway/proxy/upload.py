"""RequestUpload: the client's request body on its way upstream (ProxyExchange's base): encoded,
held while the upstream cannot take it (the client paused past PENDING_LIMIT), kept for a replay."""

from __future__ import annotations

from gateway.proxy.connection import UpstreamConnection
from gateway.proxy.request import PENDING_LIMIT, Sent
from gateway.proxy.seams import Downstream, LoopLike
from gateway.proxy.wire import BodyEncoder


class RequestUpload:
    """The request-body half of ProxyExchange (its base class): body() / end_body() from
    the client side, on_upstream_full() / on_upstream_drained() from the connection. The
    exchange provides the attributes annotated below and calls _flush_pending() once its
    head is written."""

    # deadline is the exchange's (see there); here because every write moves it too
    __slots__ = (
        "body_done",
        "body_paused",
        "deadline",
        "encoder",
        "pending",
        "pending_size",
        "sent",
        "upstream_full",
    )

    conn: UpstreamConnection | None
    connected: bool
    done: bool
    downstream: Downstream
    loop: LoopLike
    timeout: float

    def __init__(self, chunked: bool, has_body: bool) -> None:
        self.encoder = BodyEncoder(chunked) if chunked else None
        self.sent: Sent | None = None  # request body sent on this connection (for a replay)
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.body_done = not has_body
        self.body_paused = False  # we paused the client's body
        self.upstream_full = False

    def body(self, data: bytes) -> None:
        if self.done or not data:
            return
        encoded = data if self.encoder is None else self.encoder.data(data)
        if self.connected and not self.upstream_full and not self.pending:
            self._write_body(encoded)
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
        tail = None if self.encoder is None else self.encoder.end(trailers)
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
