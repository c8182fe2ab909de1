"""The TLS layer: a Protocol toward the socket transport and a Transport toward the HTTP
protocol, with an ssl.SSLObject between two MemoryBIOs (CPython's asyncio sslproto split,
without its futures). Non-blocking handshake with its own timer, backpressure passed both
ways, files read with os.pread in bounded chunks and encrypted, close_notify on close, and
a readable 400 in clear text for a client that speaks plain HTTP to the TLS port."""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import ssl
from collections.abc import Callable
from typing import Any

from gateway.tls.hello import HelloSniffer
from gateway.tls.plain import PLAIN_HEAD_LIMIT, looks_like_http, plain_http_answer
from gateway.tls.transport import TlsTransport

log = logging.getLogger("gateway.tls")

HANDSHAKE_RECORD = 0x16  # the first byte of a TLS ClientHello record
READ_SIZE = 16 * 1024  # per SSLObject.read: one record at most (16 KiB); larger costs a big alloc
WRITE_CHUNK = 256 * 1024  # plaintext encrypted per SSLObject.write
FILE_CHUNK = 64 * 1024  # os.pread size for write_file
SMALL_FILE = 16 * 1024  # files up to this are read at once and sent with the head
PUMP_BUDGET = 1 << 20  # file bytes encrypted per loop turn before yielding to others

FileDone = Callable[[bool], None]

# States of the connection, in order.
FIRST, HANDSHAKE, PLAIN, OPEN, CLOSED = "first", "handshake", "plain", "open", "closed"


class _File:
    __slots__ = ("count", "done", "fd", "offset")

    def __init__(self, fd: int, offset: int, count: int, done: FileDone | None) -> None:
        self.fd, self.offset, self.count, self.done = fd, offset, count, done


class TlsLayer:
    """The Protocol the socket transport drives. `protocol` (the HTTP protocol) gets
    connection_made(TlsTransport) at once and connection_lost when the socket closes, so
    its lifetime is the socket's (the server tracks connections by protocol), but no data
    before the handshake is done; what it writes before then waits for the handshake."""

    def __init__(
        self,
        context: Callable[[], ssl.SSLContext],
        protocol: Any,
        *,
        handshake_timeout: float = 10.0,
    ) -> None:
        self._context = context
        self.protocol = protocol  # the inner protocol; TlsTransport.set_protocol changes it
        self._timeout = handshake_timeout
        self.state = FIRST
        self.outer: Any = None
        self.transport: TlsTransport | None = None
        self._timer: Any = None
        self._plain = bytearray()
        self._hello: HelloSniffer | None = None  # until the ClientHello is judged
        self._queue: collections.deque[bytes | _File] = collections.deque()
        self._queued = 0  # plaintext bytes (and unread file bytes) waiting behind a file
        self.closing = False
        self._outer_paused = False  # the socket transport asked us to stop writing
        self._inner_paused = False  # ... and we passed that on to the protocol
        self.reading = True  # the protocol wants data
        self._eof = False  # the peer's close_notify or FIN has been passed on
        self._pumping = False
        self._pump_soon = False
        self._aborted = False
        # Writes made while the protocol handles data (or between cork and uncork) are held
        # and encrypted together: one TLS record and one SSLObject call per answer.
        self._hold = 0
        self._held: list[bytes] = []
        self._held_size = 0

    # -- Protocol, toward the socket transport --------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.outer = transport
        self.loop = transport.loop
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self.ssl = self._context().wrap_bio(self._in, self._out, server_side=True)
        if self.ssl.context.sni_callback is not None:
            # Only a callback meets CPython's ASCII decoding of the name (see tls/hello.py):
            # with one certificate OpenSSL alone reads the hello, and nothing is sniffed.
            self._hello = HelloSniffer()
        self._timer = self.loop.call_later(self._timeout, self._on_handshake_timeout)
        self.transport = TlsTransport(self)
        self.protocol.connection_made(self.transport)

    def data_received(self, data: bytes) -> None:
        if self.state is OPEN:  # the common case first: records of an open connection
            self._in.write(data)
            self._deliver()
            return
        if self.state == FIRST and data:
            self.state = HANDSHAKE if data[0] == HANDSHAKE_RECORD else PLAIN
        if self.state == PLAIN:
            self._plain_received(data)
            return
        if self.state == CLOSED:
            return
        self._in.write(data)
        if self.state == HANDSHAKE and self._hello_judged(data):
            self._handshake()
        if self.state == OPEN:
            self._deliver()

    def eof_received(self) -> None:
        self._in.write_eof()
        if self.state == PLAIN and looks_like_http(self._plain):
            self._answer_plain()
        elif self.state in (FIRST, HANDSHAKE, PLAIN):
            self._finish_early("the client closed during the handshake")
        elif self.state == OPEN:
            self._deliver()  # the rest of the plaintext, then eof_received on the protocol

    def connection_lost(self, exc: BaseException | None) -> None:
        self.state = CLOSED
        self._cancel_timer()
        self._fail_files()
        if self.transport is not None:
            self.protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        self._outer_paused = True
        if not self._inner_paused:
            self._inner_paused = True
            self.protocol.pause_writing()

    def resume_writing(self) -> None:
        self._outer_paused = False
        self._pump()
        if self._inner_paused and not self._outer_paused and self.state != CLOSED:
            self._inner_paused = False
            self.protocol.resume_writing()

    # -- handshake ------------------------------------------------------------------------

    def _handshake(self) -> None:
        try:
            self.ssl.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except (ssl.SSLError, ssl.CertificateError) as exc:
            self._flush()  # the alert, so the client learns why
            self._finish_early(f"tls handshake failed: {exc}")
            return
        self._flush()  # the server's last flight and TLS 1.3 session tickets
        self._cancel_timer()
        self.state = OPEN
        self._pump()  # what the protocol wrote during the handshake

    def _hello_judged(self, data: bytes) -> bool:
        """False while the ClientHello is incomplete (OpenSSL could do nothing with it
        yet) or after it was refused for a server name that is not ASCII."""
        if self._hello is None:
            return True
        verdict = self._hello.feed(data)
        if verdict is None:
            return False
        self._hello = None
        if not verdict:
            self._finish_early("the client hello names a server that is not ascii")
        return verdict

    def _on_handshake_timeout(self) -> None:
        self._timer = None
        if self.state in (FIRST, HANDSHAKE, PLAIN):
            log.debug("tls: handshake timed out after %gs", self._timeout)
            self.state = CLOSED
            self.outer.abort()

    def _finish_early(self, why: str) -> None:
        log.debug("tls: %s (peer %s)", why, self.outer.get_extra_info("peername"))
        self.state = CLOSED
        self._cancel_timer()
        self.outer.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- plain HTTP on the TLS port -------------------------------------------------------

    def _plain_received(self, data: bytes) -> None:
        self._plain += data
        if not looks_like_http(self._plain):
            self._finish_early("the first bytes are neither tls nor http")
        elif b"\r\n\r\n" in self._plain or len(self._plain) >= PLAIN_HEAD_LIMIT:
            self._answer_plain()

    def _answer_plain(self) -> None:
        # Answer once the head is in: closing with unread request bytes would make the
        # kernel send RST, and the client could lose the answer.
        self.outer.write(plain_http_answer(bytes(self._plain)))
        self._plain.clear()
        self._finish_early("plain http sent to the tls port; answered 400")

    # -- reading --------------------------------------------------------------------------

    def _deliver(self) -> None:
        """Hand decrypted bytes to the protocol while it reads; pass on the peer's end."""
        self._hold += 1
        try:
            self._read_loop()
        finally:
            self._hold -= 1
        if not self._hold:
            self._release()
        if self.state == OPEN and self._out.pending:
            self._flush()  # key updates or tickets the read produced

    def _read_loop(self) -> None:
        while self.state == OPEN and self.reading and not self._eof:
            try:
                chunk = self.ssl.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # close_notify
                self._peer_eof()
                break
            except ssl.SSLError as exc:
                if self._in.eof and isinstance(exc, ssl.SSLEOFError):
                    self._peer_eof()  # FIN without close_notify: an end all the same
                else:
                    log.debug(
                        "tls: bad record from %s: %s", self.outer.get_extra_info("peername"), exc
                    )
                    self.abort()
                break
            if not chunk:
                self._peer_eof()
                break
            self.protocol.data_received(chunk)
            if not self._in.pending and not self.ssl.pending() and not self._in.eof:
                break  # all read: skip the read that would only raise SSLWantReadError

    def _peer_eof(self) -> None:
        self._eof = True
        self.protocol.eof_received()

    def resume_delivery(self) -> None:
        if self.state == OPEN and self.reading:
            self._deliver()

    # -- writing --------------------------------------------------------------------------

    def write(self, data: bytes | memoryview) -> None:
        if self.state in (PLAIN, CLOSED) or self.closing or not data:
            return
        if self._queue or self.state != OPEN:
            self._queue.append(bytes(data))
            self._queued += len(data)
            return
        if self._hold:
            self._held.append(bytes(data))
            self._held_size += len(data)
            if self._held_size >= WRITE_CHUNK:
                self._release()
            return
        self._encrypt(data)

    def _release(self) -> None:
        """Encrypt the held writes as one."""
        if not self._held:
            return
        held = self._held
        data = held[0] if len(held) == 1 else b"".join(held)
        self._held = []
        self._held_size = 0
        if self.state == OPEN:
            self._encrypt(data)

    def cork(self) -> None:
        self._hold += 1

    def uncork(self) -> None:
        self._hold -= 1
        if not self._hold:
            self._release()

    def write_file(self, fd: int, offset: int, count: int, done: FileDone | None) -> None:
        if self.state in (PLAIN, CLOSED) or self.closing:
            if done is not None:
                done(False)
            return
        if count <= SMALL_FILE and not self._queue and self.state == OPEN:
            # A small file joins the held head: one record, no pump; the fd is free now.
            try:
                chunk = os.pread(fd, count, offset)
            except OSError:
                chunk = b""
            if len(chunk) == count:
                self.write(chunk)
                if done is not None:
                    done(True)
                return
        self._release()  # what was written before the file goes before it
        self._queue.append(_File(fd, offset, count, done))
        self._queued += count
        self._pump()

    def _encrypt(self, data: bytes | memoryview) -> None:
        try:
            if len(data) <= WRITE_CHUNK:
                self.ssl.write(data)
            else:
                view = memoryview(data)
                for start in range(0, len(view), WRITE_CHUNK):
                    self.ssl.write(view[start : start + WRITE_CHUNK])
        except ssl.SSLError as exc:
            log.debug("tls: write failed: %s", exc)
            self.abort()
            return
        self._flush()

    def _flush(self) -> None:
        data = self._out.read()
        if data:
            self.outer.write(data)

    def _pump(self) -> None:
        """Encrypt queued bytes and file chunks in order while the socket transport takes
        them; stop when it pauses us (resume_writing calls back) or after PUMP_BUDGET."""
        if self._pumping:
            return  # a done() callback wrote more: the running loop below picks it up
        self._pumping = True
        budget = PUMP_BUDGET
        try:
            while self._queue and not self._outer_paused and self.state == OPEN:
                if budget <= 0:
                    self._schedule_pump()
                    return
                budget -= self._pump_one(self._queue[0])
        finally:
            self._pumping = False
        if not self._queue and self.closing and self.state == OPEN:
            self._shutdown()

    def _pump_one(self, item: bytes | _File) -> int:
        if isinstance(item, bytes):
            self._queue.popleft()
            self._queued -= len(item)
            self._encrypt(item)
            return len(item)
        if item.count == 0:
            self._queue.popleft()
            if item.done is not None:
                item.done(True)
            return 0
        try:
            chunk = os.pread(item.fd, min(FILE_CHUNK, item.count), item.offset)
        except OSError as exc:
            log.warning("tls: reading a file to send failed (%s); closing the connection", exc)
            chunk = b""
        if not chunk:
            if item.count:
                log.warning("tls: file shrank while being sent; closing the connection")
            self.abort()  # the length was promised: the framing is broken now
            return 0
        item.offset += len(chunk)
        item.count -= len(chunk)
        self._queued -= len(chunk)
        self._encrypt(chunk)
        if item.count == 0 and self._queue and self._queue[0] is item:
            self._queue.popleft()
            if item.done is not None:
                item.done(True)
        return len(chunk)

    def _schedule_pump(self) -> None:
        if not self._pump_soon:
            self._pump_soon = True
            self.loop.call_soon(self._pump_later)

    def _pump_later(self) -> None:
        self._pump_soon = False
        self._pump()

    def _fail_files(self) -> None:
        queue, self._queue = self._queue, collections.deque()
        self._queued = 0
        for item in queue:
            if isinstance(item, _File) and item.done is not None:
                item.done(False)

    # -- closing --------------------------------------------------------------------------

    def close(self) -> None:
        if self.closing or self.state == CLOSED:
            return
        self._release()
        self.closing = True
        self.reading = False
        if self.state != OPEN:  # mid-handshake: no close_notify to send yet
            self.state = CLOSED
            self._cancel_timer()
            self._fail_files()
            self.outer.close()
        elif not self._queue:
            self._shutdown()

    def _shutdown(self) -> None:
        """Send close_notify (not waiting for the peer's: RFC 8446 6.1 allows it) and close."""
        # SSLWantReadError: ours is written and the peer's has not come; that is fine.
        with contextlib.suppress(ssl.SSLError):
            self.ssl.unwrap()
        self._flush()
        self.state = CLOSED
        self.outer.close()

    def abort(self) -> None:
        if self._aborted or self.outer is None:
            return
        self._aborted = True
        self.state = CLOSED
        self._held.clear()
        self._fail_files()
        self.outer.abort()

    @property
    def closed(self) -> bool:
        return self.state == CLOSED

    def buffer_size(self) -> int:
        return int(self.outer.get_write_buffer_size()) + self._queued + self._held_size

    def set_reading(self, reading: bool) -> None:
        self.reading = reading and not self.closing
