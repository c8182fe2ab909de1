"""BodySplice: the rest of a large Content-Length body moved from one transport's socket to
another's by gateway.proxy.splice (os.splice through a pipe; recv_into/send as the
fallback), around both transports, on the loop's selector: responses here (offer), request
bodies in gateway.proxy.upsplice. It works on dup()s of the two sockets, so the selector
never holds a descriptor a transport may close and the kernel reuse."""

from __future__ import annotations

import selectors
import socket
from collections.abc import Callable
from typing import Any

from gateway.http.writer import Framing
from gateway.proxy.seams import TransportLike
from gateway.proxy.splice import HAS_SPLICE, SPLICE_MIN, Relay, SpliceJob


def plain_socket(transport: Any) -> socket.socket | None:
    """The socket under a transport when its bytes are the wire's (no TLS), else None."""
    if transport is None or transport.get_extra_info("ssl_object") is not None:
        return None
    sock = transport.get_extra_info("socket")
    if not isinstance(sock, socket.socket) or sock.type != socket.SOCK_STREAM:
        return None
    return sock


def can_splice(length: int, client: Any, upstream: Any) -> bool:
    """Worth it (SPLICE_MIN bytes or more) and possible (plain stream sockets both ways)."""
    return (
        length >= SPLICE_MIN
        and plain_socket(client) is not None
        and plain_socket(upstream) is not None
    )


class BodySplice:
    """Moves `count` bytes from the `src` transport's socket to the `dst` one's once
    started: a response body upstream -> client (offer, below), a request body client ->
    upstream (gateway.proxy.upsplice). `done(error, moved)` runs once, on the loop: error
    None when every byte went, EOFError when the source closed early, OSError from either
    socket; `broken` then names the side that failed ("src" or "dst"). The source
    transport's reading must be paused meanwhile (the caller does it); the destination
    transport's queued output is let out first, so bytes stay in order. `on_step()` runs
    after each step that left it waiting (deadlines; it may cancel)."""

    def __init__(
        self,
        selector: selectors.BaseSelector,
        dst: TransportLike,
        src: TransportLike,
        count: int,
        done: Callable[[BaseException | None, int], None],
        use_splice: bool | None = None,  # None: os.splice where the platform has it
        on_step: Callable[[], None] | None = None,
    ) -> None:
        self.selector = selector
        self.dst = dst
        self.count = count
        self.done = done
        self.on_step = on_step
        dst_sock, src_sock = plain_socket(dst), plain_socket(src)
        assert dst_sock is not None and src_sock is not None
        self._src = src_sock.dup()
        self._dst = dst_sock.dup()
        use = HAS_SPLICE if use_splice is None else use_splice
        self.relay = Relay(self._src, self._dst, count, use)
        self.job: SpliceJob | None = None
        self._waiting = False  # registered for the destination's output to drain
        self.broken = ""
        self.finished = False

    @property
    def moved(self) -> int:
        return self.relay.moved

    @property
    def waits_on_client(self) -> bool:
        """Whether the bytes wait for the destination (the client, for a response body)
        to take them, rather than for the source to send them."""
        return self._waiting or (self.job is not None and self.job.waiting_on is self._dst)

    @property
    def waits_on_source(self) -> bool:
        """Whether the bytes wait for the source to send them."""
        return self.job is not None and self.job.waiting_on is self._src

    def start(self) -> None:
        if self.dst.get_write_buffer_size():
            # Bytes written before (a response head, the first body bytes) are still queued
            # in the destination transport (registered for writability on its own
            # descriptor): wait them out.
            self._waiting = True
            self.selector.register(self._dst, selectors.EVENT_WRITE, self._on_writable)
            if self.on_step is not None:
                self.on_step()
            return
        self._run()

    def _on_writable(self, mask: int) -> None:
        if self.dst.get_write_buffer_size():
            if self.dst.is_closing():
                self.broken = "dst"
                self._finish(ConnectionResetError("the connection closed"))
            return  # the transport sends on this same readiness: look again next turn
        self._stop_waiting()
        self._run()

    def _run(self) -> None:
        self.job = SpliceJob(self.selector, self.relay, self._on_done, self.on_step)
        self.job.start()

    def _on_done(self, error: BaseException | None) -> None:
        self.broken = self.relay.broken
        self._finish(error)

    def _stop_waiting(self) -> None:
        if self._waiting:
            self._waiting = False
            self.selector.unregister(self._dst)

    def _finish(self, error: BaseException | None) -> None:
        if self.finished:
            return
        self._release()
        self.done(error, self.relay.moved)

    def cancel(self) -> None:
        """Stop now (the client or the exchange gave up); done() is not called."""
        if not self.finished:
            self._release()

    def _release(self) -> None:
        self.finished = True
        self._stop_waiting()
        if self.job is not None:
            self.job.cancel()  # unregisters (idempotent once the job finished)
        self.relay.close()
        self._src.close()
        self._dst.close()


def offer(exchange: Any, length: int) -> None:
    """After a response head with this Content-Length went to the client: if the body is
    worth splicing and both sides are plain sockets, splice what the first read did not
    bring, on the next loop turn (once the corked head and first bytes are written)."""
    conn = exchange.conn
    downstream = exchange.downstream
    if (
        getattr(exchange.loop, "selector", None) is None
        or not exchange.body_done
        or exchange.pending
        or getattr(downstream, "framing", None) is not Framing.LENGTH
        or not can_splice(length, getattr(downstream, "transport", None), conn.transport)
    ):
        return
    exchange.loop.call_soon(lambda: _begin(exchange, conn))


def _begin(exchange: Any, conn: Any) -> None:
    if exchange.done or exchange.conn is not conn or conn.listener is not exchange:
        return
    left = conn.parser.body_left()
    if left < SPLICE_MIN:
        return  # most of the body came with the head: the rest goes the usual way
    conn.transport.pause_reading()

    def done(error: BaseException | None, moved: int) -> None:
        _finished(exchange, conn, error, moved)

    splice = BodySplice(
        exchange.loop.selector, exchange.downstream.transport, conn.transport, left, done
    )
    exchange.splice = splice
    exchange.splice_seen = -1
    limit = min(exchange.timeout, exchange.client_timeout)
    exchange.deadline = exchange.loop.now + limit
    exchange.deadlines.watch(exchange, limit)
    splice.start()


def _finished(exchange: Any, conn: Any, error: BaseException | None, moved: int) -> None:
    exchange.splice = None
    exchange.downstream.sent += moved  # the access log's body size
    if exchange.done:
        return
    if error is None:
        conn.parser.body_skipped(moved)
        conn.transport.resume_reading()
        conn.relay_events()  # the end of the response: pooled, answered, logged
        return
    server = exchange.upstream.names[exchange.index]
    where = f"upstream {exchange.upstream.spec.name!r} server {server}"
    if isinstance(error, EOFError):  # the upstream closed mid-body: its failure
        exchange.abort_started(f"{where}: closed the connection mid-response", upstream=True)
    else:
        exchange.abort_started(f"{where}: zero-copy relay failed: {error}", upstream=False)
