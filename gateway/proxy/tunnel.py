"""Tunnel: after a 101 (or any switch), the client and upstream connections become one byte
pipe. Each side's bytes are written to the other; when the other's write buffer is over its
high-water mark, reading from this side pauses until it drains. Either side closing (or
shutting its write side) closes both: the two connections end together."""

from __future__ import annotations

from collections.abc import Callable

from gateway.proxy.seams import TransportLike


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
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.on_close = on_close
        self.closed = False
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

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.client.close()
        self.upstream.close()
        if self.on_close is not None:
            self.on_close()
