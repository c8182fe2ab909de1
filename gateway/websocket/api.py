"""WebSocket: what an `async def` WebSocket handler holds. It lives on the async loop and
talks to the connection's protocol (on the server loop) through two thread hops: messages
in, sends/close out. Sends wait while the connection's send buffer is full (backpressure)."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

CallSoon = Callable[[Callable[[], None]], None]


@dataclass(frozen=True, slots=True)
class Close:
    """The connection closed: `code` as RFC 6455 §7.4 (1000 normal, 1001 going away, 1006
    dropped without a close frame, 1007 bad UTF-8, 1009 too big...), and the reason."""

    code: int
    reason: str = ""


class WebSocketClosed(Exception):
    """Raised by send() or receive() once the connection has closed; carries the Close."""

    def __init__(self, close: Close) -> None:
        why = f" {close.reason}" if close.reason else ""
        super().__init__(f"websocket closed ({close.code}{why})")
        self.close = close


Message = str | bytes | Close


def sendable_close_code(code: int) -> bool:
    """RFC 6455 7.4: 1004-1006 and 1015 are never sent, below 1000 and 1016-2999 are unused
    or the IANA's to give, from 5000 nothing is defined."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


class WebSocket:
    """The handler's side of one connection. `request` is the upgrade request (params,
    query, headers, client); `subprotocol` the one accepted (None: none)."""

    def __init__(self, protocol: Any, request: Any, server_call_soon: CallSoon, send_buffer: int):
        self._protocol = protocol  # the WebSocketProtocol; touched only via server_call_soon
        self._call = server_call_soon
        self.request = request
        self.subprotocol: str | None = None
        self._accepted = False
        self._inbox: collections.deque[Message] = collections.deque()
        self._inbox_waiter: asyncio.Future[None] | None = None
        self._closed: Close | None = None  # set once the protocol says the connection ended
        self._close_done = asyncio.Event()
        self._send_buffer = send_buffer
        self._pending = 0  # bytes handed to the protocol and not yet written to the transport
        self._writable = True  # the transport is not paused
        self._send_ready = asyncio.Event()
        self._send_ready.set()

    # -- the handler's API ------------------------------------------------------------------

    async def accept(self, subprotocol: str | None = None) -> None:
        """Send the 101 (optional: the first receive() or send() accepts with no subprotocol).
        A handler that closes or returns before accepting answers 403 instead."""
        if self._accepted:
            return
        if self._closed is not None:
            raise WebSocketClosed(self._closed)
        self._accepted = True
        self.subprotocol = subprotocol
        self._call(lambda: self._protocol.accept(subprotocol))

    async def receive(self) -> Message:
        """The next whole message: str for text, bytes for binary, or a Close once the
        connection ended (after which receive() raises WebSocketClosed)."""
        await self.accept()
        while not self._inbox:
            if self._closed is not None:
                raise WebSocketClosed(self._closed)
            self._inbox_waiter = asyncio.get_running_loop().create_future()
            await self._inbox_waiter
        message = self._inbox.popleft()
        if not isinstance(message, Close):
            size = len(message)
            self._call(lambda: self._protocol.consumed(size))
        return message

    async def send(self, data: str | bytes) -> None:
        """Send one message (str: text, bytes: binary). Waits while the send buffer is full
        (a slow client); raises WebSocketClosed when the connection is gone."""
        if not isinstance(data, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"websocket send() takes str or bytes, not {type(data).__name__!r}")
        if isinstance(data, str) and not data.isascii():
            data.encode()  # a lone surrogate raises here, in the handler, not on the server loop
        await self.accept()
        while True:
            if self._closed is not None:
                raise WebSocketClosed(self._closed)
            if self._writable and self._pending < self._send_buffer:
                break
            self._send_ready.clear()
            await self._send_ready.wait()
        payload = data if isinstance(data, str) else bytes(data)
        self._pending += len(payload)
        self._call(lambda: self._protocol.send_message(payload))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake and wait (bounded) until the connection is closed."""
        if not sendable_close_code(code):
            raise ValueError(
                f"websocket close code {code!r} may not be sent: use 1000-1003, 1007-1014 "
                "or 3000-4999"
            )
        if self._closed is None:
            self._call(lambda: self._protocol.close(code, reason))
        await self._close_done.wait()

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str | bytes]:
        """`async for message in ws`: every message until the connection closes."""
        while True:
            message = await self.receive()
            if isinstance(message, Close):
                return
            yield message

    @property
    def closed(self) -> Close | None:
        return self._closed

    # -- called on the async loop by the protocol (through the runner) ------------------------

    def _deliver(self, message: Message) -> None:
        if isinstance(message, Close):
            if self._closed is None:
                self._closed = message
                self._inbox.append(message)
            self._close_done.set()
            self._send_ready.set()
        else:
            self._inbox.append(message)
        waiter, self._inbox_waiter = self._inbox_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _written(self, size: int) -> None:
        self._pending -= size
        self._send_ready.set()

    def _set_writable(self, writable: bool) -> None:
        self._writable = writable
        if writable:
            self._send_ready.set()
