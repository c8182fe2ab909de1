"""The Transport the HTTP protocol sees over TLS: plaintext goes to the TlsLayer, which
encrypts it; everything about the socket (reading, buffer limits, peer address) is asked of
the socket transport below; ssl_object, cipher and alpn_protocol come from the SSLObject."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any, Protocol

FileDone = Callable[[bool], None]


class TlsLayer(Protocol):
    """What the transport uses of gateway.tls.layer.TlsLayer (not imported: the layer
    imports this module, and gateway keeps its import graph free of cycles)."""

    loop: Any
    outer: Any
    protocol: Any
    ssl: ssl.SSLObject
    reading: bool
    closing: bool

    @property
    def closed(self) -> bool: ...
    def write(self, data: bytes | memoryview) -> None: ...
    def write_file(self, fd: int, offset: int, count: int, done: FileDone | None) -> None: ...
    def set_reading(self, reading: bool) -> None: ...
    def resume_delivery(self) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def buffer_size(self) -> int: ...
    def cork(self) -> None: ...
    def uncork(self) -> None: ...


class TlsTransport:
    """The Transport the HTTP protocol writes to: plaintext in, records out through the
    layer; everything about the socket is asked of the socket transport below."""

    __slots__ = ("_layer", "loop")

    def __init__(self, layer: TlsLayer) -> None:
        self._layer = layer
        self.loop = layer.loop

    def write(self, data: bytes | memoryview) -> None:
        self._layer.write(data)

    def write_file(self, fd: int, offset: int, count: int, done: FileDone | None) -> None:
        self._layer.write_file(fd, offset, count, done)

    def pause_reading(self) -> None:
        self._layer.set_reading(False)
        self._layer.outer.pause_reading()

    def resume_reading(self) -> None:
        layer = self._layer
        if layer.closed or layer.closing:
            return
        layer.set_reading(True)
        layer.outer.resume_reading()
        # Plaintext may wait inside the SSLObject from before the pause; no new socket
        # data may come to push it out, so deliver it on the next loop turn.
        self.loop.call_soon(layer.resume_delivery)

    def is_reading(self) -> bool:
        return self._layer.reading and bool(self._layer.outer.is_reading())

    def close(self) -> None:
        self._layer.close()

    def abort(self) -> None:
        self._layer.abort()

    def is_closing(self) -> bool:
        layer = self._layer
        return layer.closing or layer.closed or bool(layer.outer.is_closing())

    def get_write_buffer_size(self) -> int:
        return self._layer.buffer_size()

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        self._layer.outer.set_write_buffer_limits(high, low)

    def get_protocol(self) -> Any:
        return self._layer.protocol

    def set_protocol(self, protocol: Any) -> None:
        self._layer.protocol = protocol

    @property
    def progress_at(self) -> float:
        """Loop time of the last send that moved bytes (the protocol's write timeout)."""
        found = getattr(self._layer.outer, "progress_at", None)
        return float(found if found is not None else self.loop.now)

    def cork(self) -> None:
        """Hold writes until uncork() (nestable): they become one record."""
        self._layer.cork()

    def uncork(self) -> None:
        self._layer.uncork()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        sslobj = self._layer.ssl
        if name == "ssl_object":
            return sslobj
        if name == "sslcontext":
            return sslobj.context
        if name == "cipher":
            return sslobj.cipher()
        if name == "peercert":
            return sslobj.getpeercert()
        if name == "alpn_protocol":
            return sslobj.selected_alpn_protocol()
        if name == "server_hostname":
            return sslobj.server_hostname
        return self._layer.outer.get_extra_info(name, default)
