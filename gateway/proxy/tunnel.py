"""Tunnel: after a 101 (or any switch), the client and upstream connections become one byte
pipe. Each side's bytes are written to the other; when the other's write buffer is over its
high-water mark, reading from this side pauses until it drains. Either side closing (or
shutting its write side) closes both: the two connections end together, as they do when
no byte has passed either way for the route's tunnel_idle_timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.proxy import headers as policy
from gateway.proxy.connection import State
from gateway.proxy.seams import LoopLike, ResponseHeadLike, TimerLike, TransportLike


class _Side:
    """The protocol on one of the two transports."""

    def __init__(self, tunnel: Tunnel, own: TransportLike, other: TransportLike) -> None:
        self.tunnel = tunnel
        self.own = own
        self.other = other

    def connection_made(
        self, transport: TransportLike
    ) -> None:  # pragma: no cover - handed over live
        pass

    def data_received(self, data: bytes) -> None:
        tunnel = self.tunnel
        if tunnel.loop is not None:
            tunnel.last = tunnel.loop.now
        self.other.write(data)

    def eof_received(self) -> None:
        # No half-close on our transports: the peer is done, so is the tunnel (after the
        # other side has sent what it had queued: close(), not abort()).
        self.tunnel.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.tunnel.close()

    def pause_writing(self) -> None:
        self.other.pause_reading()  # our buffer is full: stop taking the other side's bytes

    def resume_writing(self) -> None:
        if not self.tunnel.closed:
            self.other.resume_reading()


class Tunnel:
    def __init__(
        self,
        client: TransportLike,
        upstream: TransportLike,
        on_close: Callable[[], None] | None = None,
        *,
        loop: LoopLike | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.on_close = on_close
        self.closed = False
        # Idle: one timer chases the last byte's time (`last`, stored by each read), not a
        # timer per message; it closes the tunnel `idle_timeout` after the last byte.
        self.loop = loop
        self.idle_timeout = idle_timeout
        self.last = loop.now if loop is not None else 0.0
        self._timer: TimerLike | None = None
        client.set_protocol(_Side(self, client, upstream))
        upstream.set_protocol(_Side(self, upstream, client))

    def start(self, to_upstream: bytes = b"", to_client: bytes = b"") -> None:
        """Pass on what each side sent before the switch, then let bytes flow."""
        if to_upstream:
            self.upstream.write(to_upstream)
        if to_client:
            self.client.write(to_client)
        for transport in (self.client, self.upstream):
            if not transport.is_reading() and not transport.is_closing():
                transport.resume_reading()
        if self.loop is not None and self.idle_timeout:
            self.last = self.loop.now
            self._timer = self.loop.call_later(self.idle_timeout, self._check_idle)

    def _check_idle(self) -> None:
        self._timer = None
        if self.closed or self.loop is None or not self.idle_timeout:
            return
        left = self.last + self.idle_timeout - self.loop.now
        if left <= 0:
            self.close()  # close(), not abort(): what each side had queued still goes
            return
        self._timer = self.loop.call_later(left, self._check_idle)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.client.close()
        self.upstream.close()
        if self.on_close is not None:
            self.on_close()


def open_tunnel(exchange: Any, head: ResponseHeadLike) -> Tunnel:
    """The upstream said 101 to an upgrade the client asked for: its connection leaves the
    pool's care, the client gets the 101, and both become one tunnel (counted as one
    request in flight on the server until it closes)."""
    conn = exchange.conn
    assert conn is not None and conn.transport is not None
    conn.state = State.SWITCHED
    conn.listener = None
    trailing = conn.parser.trailing_data()
    fields = policy.response_fields(head.headers.items(), exchange.rules, upgraded=True)
    client, leftover = exchange.downstream.switch(head.status, head.reason, fields)
    pool = exchange.upstream.pools[exchange.index]

    def closed() -> None:
        pool.active -= 1

    tunnel = Tunnel(
        client,
        conn.transport,
        on_close=closed,
        loop=exchange.loop,
        idle_timeout=exchange.rules.tunnel_idle_timeout,
    )
    tunnel.start(to_upstream=leftover, to_client=trailing)
    return tunnel
