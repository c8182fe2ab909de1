"""SocketTransport: the Transport of one non-blocking stream socket on the loop's selector
(CPython's _SelectorSocketTransport is the model): held and coalesced writes, sendfile
resumed after partial sends, read/write interest, close after output or at once."""

from __future__ import annotations

import errno
import logging
import os
import selectors
import socket
from typing import Any, cast

from gateway.server.transport import FileDone, LoopLike, Protocol, Transport

log = logging.getLogger("gateway.server")

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
RECV_SIZE = 65536
SENDFILE_CHUNK = 1 << 22  # one sendfile call sends at most this much, so others get a turn
HIGH_WATER = 64 * 1024  # default write-buffer limits, as asyncio's
LOW_WATER = 16 * 1024


class _File:
    __slots__ = ("count", "done", "fd", "offset")

    def __init__(self, fd: int, offset: int, count: int, done: FileDone | None) -> None:
        self.fd = fd
        self.offset = offset
        self.count = count
        self.done = done


_Item = bytes | memoryview | _File
# What an idle transport holds instead of a list of its own (shed(); issue 10, item 8).
# Empty, so never appended to: a write replaces it with a list, kept while in use.
_NO_OUTPUT = cast("list[_Item]", ())


class SocketTransport(Transport):
    """A non-blocking stream socket on the selector (CPython's _SelectorSocketTransport is
    the model). A write is tried at once when nothing waits before it; writes made inside
    data_received, or between cork() and uncork(), are held and leave together in one send.
    Bytes before a file go with MSG_MORE; files go by os.sendfile, resumed where a partial
    send left off. Whatever the socket does not take waits for writability."""

    __slots__ = (
        "_buffered",
        "_closing",
        "_conn_lost",
        "_corked",
        "_eof",
        "_extra",
        "_high",
        "_low",
        "_mask",
        "_out",
        "_protocol",
        "_reading",
        "_sock",
        "_writing_paused",
        "loop",
        "progress_at",
    )

    def __init__(
        self,
        loop: LoopLike,
        sock: socket.socket,
        protocol: Protocol,
        extra: dict[str, Any] | None = None,
        *,
        connecting: bool = False,
    ) -> None:
        self.loop = loop
        self._sock = sock
        self._protocol = protocol
        self._extra = extra  # None until asked for: idle connections hold no dict
        # A list, not a deque: an empty deque costs 770 bytes, an empty list 60, and the
        # queue is short (_coalesce joins the bytes before the first file into one item).
        self._out: list[_Item] = _NO_OUTPUT
        self._buffered = 0  # bytes in _out
        self._high = HIGH_WATER
        self._low = LOW_WATER
        self._writing_paused = False
        self._corked = 1 if connecting else 0  # writes wait until the connection is up
        self._reading = not connecting
        self._closing = False
        self._conn_lost = False
        self._eof = False  # the peer shut its side: nothing more to read, ever
        self.progress_at = loop.now  # loop time of the last send that moved bytes
        self._mask = WRITE if connecting else READ
        # The key's data is the transport itself (called with the mask: __call__ is
        # _on_ready), not a bound method: 64 bytes less per connection (issue 10, item 8).
        handler = self._on_connected if connecting else self
        loop.selector.register(sock, self._mask, handler)
        if not connecting:
            protocol.connection_made(self)

    # -- the interface --------------------------------------------------------------------

    def write(self, data: bytes | memoryview) -> None:
        if self._closing or not data:
            return
        out = self._out
        if out is _NO_OUTPUT:
            out = self._out = []
        out.append(data)
        self._buffered += len(data)
        if not self._corked and not self._mask & WRITE:  # not waiting for writability
            self._flush()
        elif self._buffered > self._high:
            self._check_high()

    def write_file(self, fd: int, offset: int, count: int, done: FileDone | None) -> None:
        if self._closing:
            if done is not None:
                done(False)
            return
        if self._out is _NO_OUTPUT:
            self._out = []
        self._out.append(_File(fd, offset, count, done))
        if not self._corked and not self._mask & WRITE:
            self._flush()

    def send_now(self, data: bytes, fd: int = -1, count: int = 0) -> tuple[int, int]:
        """Send `data`, then (with MSG_MORE before it) `count` bytes of file `fd` from
        offset 0, at once when nothing waits before them, even while corked: the hot path
        of a cached answer (no output list, queue item or done callback). How many of
        each went; the caller queues the rest with write and write_file (no-ops once the
        send failed and the transport closed)."""
        if self._out or self._closing or self._mask & WRITE:
            return 0, 0
        sock = self._sock
        loop = self.loop
        loop.send_calls += 1
        try:
            sent = sock.send(data, socket.MSG_MORE if count else 0)
        except (BlockingIOError, InterruptedError):
            return 0, 0
        except OSError as exc:
            self._fatal(exc)
            return 0, 0
        self.progress_at = loop.now
        if sent < len(data) or not count:
            return sent, 0
        try:
            done = os.sendfile(sock.fileno(), fd, 0, min(count, SENDFILE_CHUNK))
        except (BlockingIOError, InterruptedError):
            return sent, 0
        except OSError as exc:
            self._fatal(exc)
            return sent, 0
        if done == 0:
            log.warning("file shrank while being sent; closing the connection")
            self.abort()
        return sent, done

    def cork(self) -> None:
        """Hold writes until uncork() (nestable): they leave together, in fewer sends."""
        self._corked += 1

    def uncork(self) -> None:
        self._corked -= 1
        if not self._corked and self._out and not self._mask & WRITE and not self._conn_lost:
            self._flush()

    def pause_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._update_mask()

    def resume_reading(self) -> None:
        if not self._reading and not self._closing and not self._eof:
            self._reading = True
            self._update_mask()

    def is_reading(self) -> bool:
        return self._reading

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._reading = False
        if not self._out:
            self._finish(None)
        elif not self._corked:
            self._update_mask()

    def abort(self) -> None:
        self._closing = True
        self._finish(None)

    def is_closing(self) -> bool:
        return self._closing

    def shed(self) -> None:
        """Idle: let go of the (empty) output list until the next write."""
        if not self._out:
            self._out = _NO_OUTPUT

    def get_write_buffer_size(self) -> int:
        return self._buffered

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        if not 0 <= low <= high:
            raise ValueError(f"write buffer limits need 0 <= low <= high, not {high=}, {low=}")
        self._high = high
        self._low = low
        self._check_high()

    def get_protocol(self) -> Protocol:
        return self._protocol

    def set_protocol(self, protocol: Protocol) -> None:
        self._protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self._sock
        if self._extra is None:
            self._extra = {}
        value = self._extra.get(name, default)
        if value is default and name in ("peername", "sockname") and not self._conn_lost:
            try:
                value = self._sock.getpeername() if name == "peername" else self._sock.getsockname()
            except OSError:
                return default
            self._extra[name] = value
        return value

    @property
    def mask(self) -> int:
        """The selector events this transport waits for now (0 when closed)."""
        return self._mask

    # -- events from the loop -------------------------------------------------------------

    def _on_ready(self, mask: int) -> None:
        if mask & READ and self._reading:
            try:
                data = self._sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError as exc:
                self._fatal(exc)
                return
            if data:
                # Writes the protocol makes while it handles these bytes leave together,
                # in one send after it returns (pipelined answers coalesce).
                self._corked += 1
                self._protocol.data_received(data)
                self._corked -= 1
                if self._out and not self._corked and not self._mask & WRITE:
                    self._flush()
                    return
            elif data is not None:
                self._eof = True
                self._reading = False
                self._update_mask()
                self._protocol.eof_received()
        if mask & WRITE and self._out and not self._conn_lost:
            self._flush()

    __call__ = _on_ready  # what the loop calls: see __init__

    def _flush(self) -> None:
        """Send as much as the socket takes now; wait for writability for the rest."""
        out = self._out
        sock = self._sock
        loop = self.loop
        while out:
            item = out[0]
            if type(item) is _File:
                if not self._send_file(item):
                    break
                continue
            more = 0
            if len(out) > 1:
                if type(out[1]) is not _File:
                    item = self._coalesce()
                if len(out) > 1:
                    more = socket.MSG_MORE  # a file follows the bytes: one TCP segment
            loop.send_calls += 1
            try:
                sent = sock.send(item, more)  # type: ignore[arg-type]
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._fatal(exc)
                return
            self.progress_at = loop.now
            self._buffered -= sent
            if sent < len(item):  # type: ignore[arg-type]
                out[0] = memoryview(item)[sent:]  # type: ignore[arg-type]
                break
            del out[0]
        if self._conn_lost:
            return
        if self._writing_paused and self._buffered <= self._low:
            self._writing_paused = False
            self._protocol.resume_writing()
        elif not self._writing_paused and self._buffered > self._high:
            self._check_high()
        if not out and self._closing:
            self._finish(None)
            return
        self._update_mask()

    def _coalesce(self) -> bytes:
        """Join the bytes before the first file (or the end) into one item."""
        out = self._out
        end = 1
        while end < len(out) and type(out[end]) is not _File:
            end += 1
        joined = b"".join(out[:end])  # type: ignore[arg-type]
        out[:end] = [joined]
        return joined

    def _send_file(self, item: _File) -> bool:
        """One sendfile call; True when the file is done (the next item may go now)."""
        if not item.count:  # an empty file: nothing to send, and 0 sent is no shrinking
            del self._out[0]
            if item.done is not None:
                item.done(True)
            return True
        try:
            sent = os.sendfile(
                self._sock.fileno(), item.fd, item.offset, min(item.count, SENDFILE_CHUNK)
            )
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            self._fatal(exc)
            return False
        if sent == 0:
            # The file shrank after its length was promised: the framing is broken now.
            log.warning("file shrank while being sent; closing the connection")
            self.abort()
            return False
        self.progress_at = self.loop.now
        item.offset += sent
        item.count -= sent
        if item.count:
            return True  # loop again: the socket may take more at once
        del self._out[0]
        if item.done is not None:
            item.done(True)
        return True

    def fail(self, exc: OSError) -> None:
        """Close now because of `exc`: connection_lost(exc) follows."""
        self._fatal(exc, connecting=True)

    def _on_connected(self, mask: int) -> None:
        """A client connection (Loop.connect) finished its non-blocking connect."""
        if self._conn_lost:
            return  # closed earlier in this batch of events (ProxyExchange.cancel)
        err = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.fail(OSError(err, os.strerror(err)))
            return
        self._reading = True
        self._mask = 0  # re-registered by _update_mask with the real handler
        self.loop.selector.modify(self._sock, READ, self)
        self._mask = READ
        self._protocol.connection_made(self)
        self.uncork()

    # -- bookkeeping ----------------------------------------------------------------------

    def _check_high(self) -> None:
        if not self._writing_paused and self._buffered > self._high and not self._conn_lost:
            self._writing_paused = True
            self._protocol.pause_writing()

    def _update_mask(self) -> None:
        if self._conn_lost:
            return
        mask = (READ if self._reading else 0) | (WRITE if self._out else 0)
        if mask == self._mask:
            return
        selector = self.loop.selector
        if mask == 0:
            selector.unregister(self._sock)
        elif self._mask == 0:
            selector.register(self._sock, mask, self)
        else:
            selector.modify(self._sock, mask, self)
        self._mask = mask

    def _fatal(self, exc: OSError, connecting: bool = False) -> None:
        if exc.errno not in _QUIET and not connecting:
            log.debug("connection error: %s", exc)
        self._closing = True
        self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        if self._conn_lost:
            return
        self._conn_lost = True
        self._reading = False
        if self._mask:
            self.loop.selector.unregister(self._sock)
            self._mask = 0
        for item in self._out:
            if type(item) is _File and item.done is not None:
                item.done(False)
        self._out = _NO_OUTPUT
        self._buffered = 0
        self._sock.close()
        # Soon, as asyncio does: close() may be called from inside the protocol's own code.
        protocol = self._protocol
        self.loop.call_soon(lambda: protocol.connection_lost(exc))


_QUIET = frozenset((errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ETIMEDOUT))
