"""TLS to an upstream (https:// servers, tls = true): TlsClient is the Protocol on the socket
transport of a Loop.connect and the Transport its inner protocol (the UpstreamConnection)
writes to, with an ssl.SSLObject between two MemoryBIOs. The inner protocol is told it is
connected only once the handshake (and the certificate check) is done."""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path
from typing import Any

READ_SIZE = 64 * 1024


def client_context(verify: bool = True, ca: Path | str | None = None) -> ssl.SSLContext:
    """A client context: the system's trust store (or `ca`, a PEM file) and the server's
    name checked against its certificate; `verify` False checks nothing (development)."""
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


class TlsClient:
    """Wraps `protocol` for one connection to `server_hostname` (sent as SNI when it is a
    name, and checked against the certificate when the context verifies)."""

    def __init__(self, context: ssl.SSLContext, server_hostname: str, protocol: Any) -> None:
        self.protocol = protocol
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self.ssl = context.wrap_bio(self._in, self._out, server_hostname=server_hostname)
        self.outer: Any = None
        self.loop: Any = None
        self.open = False  # handshake done
        self.closed = False

    # -- Protocol, toward the socket transport --------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.outer = transport
        self.loop = transport.loop
        self._handshake()

    def data_received(self, data: bytes) -> None:
        self._in.write(data)
        if not self.open:
            self._handshake()
        if self.open:
            self._deliver()

    def eof_received(self) -> None:
        self._in.write_eof()
        if self.open:
            self._deliver()
            if not self.closed:
                self.protocol.eof_received()
        else:
            self._fail(ConnectionResetError("the server closed during the TLS handshake"))

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.open:
            self.protocol.pause_writing()

    def resume_writing(self) -> None:
        if self.open:
            self.protocol.resume_writing()

    # -- inside ---------------------------------------------------------------------------

    def _handshake(self) -> None:
        try:
            self.ssl.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except (ssl.SSLError, OSError) as error:
            # The alert the ssl object wrote (unknown_ca, bad_certificate...) goes out
            # before the close, so the upstream learns why rather than seeing a bare EOF.
            self._fail(error, alert=True)
            return
        self._flush()
        self.open = True
        self.protocol.connection_made(self)

    def _deliver(self) -> None:
        while not self.closed:
            try:
                data = self.ssl.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # close_notify: the server is done
                break
            except (ssl.SSLError, OSError) as error:
                self._fail(error)
                return
            if not data:
                break
            self.protocol.data_received(data)
        self._flush()  # a renegotiation or key update may have something to send

    def _flush(self) -> None:
        pending = self._out.pending
        if pending and self.outer is not None:
            self.outer.write(self._out.read(pending))

    def _fail(self, error: BaseException, alert: bool = False) -> None:
        """The handshake or a record failed: the connection is lost with this reason (the
        exchange reports a handshake failure as 'cannot connect: ...'). `alert`: send what
        the ssl object wrote (its alert) and close after it, rather than abort."""
        if self.closed:
            return
        self.closed = True
        outer, self.outer = self.outer, None
        if outer is not None:
            outer.set_protocol(_Quiet())
            pending = self._out.pending if alert else 0
            if pending:
                outer.write(self._out.read(pending))
                outer.close()  # sends the alert first
            else:
                outer.abort()
        if isinstance(error, ssl.SSLCertVerificationError):
            text = f"tls: certificate verify failed: {error.verify_message}"
        else:
            text = f"tls: {getattr(error, 'reason', None) or error}".lower()
        self.protocol.connection_lost(OSError(0, text))

    # -- Transport, toward the inner protocol ---------------------------------------------

    def write(self, data: bytes | memoryview) -> None:
        if self.closed or not data:
            return
        try:
            self.ssl.write(data)
        except (ssl.SSLError, OSError) as error:
            self._fail(error)
            return
        self._flush()

    def pause_reading(self) -> None:
        if self.outer is not None:
            self.outer.pause_reading()

    def resume_reading(self) -> None:
        if self.outer is not None:
            self.outer.resume_reading()

    def is_reading(self) -> bool:
        return self.outer is not None and bool(self.outer.is_reading())

    def close(self) -> None:
        if self.outer is None or self.closed:
            return
        if self.open:
            with contextlib.suppress(ssl.SSLError, OSError):
                self.ssl.unwrap()  # close_notify
            self._flush()
        self.outer.close()

    def abort(self) -> None:
        if self.outer is not None:
            self.outer.abort()

    def is_closing(self) -> bool:
        return self.closed or self.outer is None or bool(self.outer.is_closing())

    def get_write_buffer_size(self) -> int:
        return 0 if self.outer is None else int(self.outer.get_write_buffer_size())

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        if self.outer is not None:
            self.outer.set_write_buffer_limits(high, low)

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self.ssl
        if name == "peercert":
            return self.ssl.getpeercert()
        return default if self.outer is None else self.outer.get_extra_info(name, default)


class _Quiet:
    """The socket transport's protocol after a failure: its last calls go nowhere."""

    def connection_made(self, transport: Any) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        pass

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass
