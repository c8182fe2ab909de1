"""Outbox: the write side of a connection. Queued items (bytes, FileBody, iterator and
pushed bodies) go out in order: adjacent bytes coalesce into one send, a head before a file
is sent with MSG_MORE, files go by sendfile, and stream items become chunks."""

from __future__ import annotations

import collections
import logging
import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

from gateway.http.writer import LAST_CHUNK, chunk
from gateway.response import FileBody, PushBody

if TYPE_CHECKING:
    from gateway.server.serve import Server

log = logging.getLogger("gateway.server")

SENDFILE_CHUNK = 1 << 22


class StreamBody:
    """An iterator body being written: each item becomes one chunk (or raw bytes
    for HTTP/1.0 close-delimited bodies)."""

    __slots__ = ("chunked", "iterator")

    def __init__(self, iterator: Iterator[bytes], chunked: bool) -> None:
        self.iterator = iterator
        self.chunked = chunked

    def close(self) -> None:
        close = getattr(self.iterator, "close", None)
        if close is not None:
            close()


OutItem = bytes | memoryview | FileBody | StreamBody | PushBody


class Outbox:
    """Mixed into Conn, which sets these attributes and implements close/flush."""

    __slots__ = ("_out", "_out_bytes", "_out_files", "_push_wait", "deadline", "server", "sock")
    _out: collections.deque[OutItem]
    _out_bytes: int
    _out_files: int
    _push_wait: bool
    deadline: float
    server: Server
    sock: socket.socket

    def close(self) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def _update_interest(self) -> None:
        raise NotImplementedError

    def _queue(self, item: OutItem) -> None:
        self._out.append(item)
        if type(item) is bytes:
            self._out_bytes += len(item)
        elif type(item) is FileBody:
            self._out_files += 1

    def _send_bytes(self, item: bytes | memoryview) -> bool:
        out = self._out
        if len(out) > 1 and isinstance(out[1], (bytes, memoryview)):
            parts: list[bytes | memoryview] = []
            while out and isinstance(out[0], (bytes, memoryview)):
                parts.append(out.popleft())  # type: ignore[arg-type]
            item = b"".join(parts)
            out.appendleft(item)
        more = socket.MSG_MORE if len(out) > 1 and isinstance(out[1], FileBody) else 0
        self.server.send_calls += 1
        try:
            sent = self.sock.send(item, more)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self.close()
            return False
        self.deadline = self.server.loop.now + self.server.timeouts.write
        if sent < len(item):
            out[0] = memoryview(item)[sent:]
            self._out_bytes -= sent
            return False
        out.popleft()
        self._out_bytes -= len(item)
        return True

    def _send_file(self, body: FileBody) -> bool:
        try:
            sent = os.sendfile(
                self.sock.fileno(), body.fd, body.offset, min(body.length, SENDFILE_CHUNK)
            )
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self.close()
            return False
        if sent == 0:
            # The file shrank after we promised its length: the framing is broken now.
            log.warning("file shrank while being sent; closing the connection")
            self.close()
            return False
        self.deadline = self.server.loop.now + self.server.timeouts.write
        body.offset += sent
        body.length -= sent
        if body.length == 0:
            body.close()
            self._out.popleft()
            self._out_files -= 1
        return True

    def _pull_stream(self, stream: StreamBody) -> bool:
        try:
            data = next(stream.iterator)
        except StopIteration:
            stream.close()
            self._out.popleft()
            if stream.chunked:
                self._out.appendleft(LAST_CHUNK)
            return True
        except Exception:
            log.exception("streamed response body failed; closing the connection")
            self.close()
            return False
        if isinstance(data, str):
            data = data.encode()
        elif not isinstance(data, (bytes, bytearray, memoryview)):
            log.error("streamed body yielded %s, not bytes or str; closing", type(data).__name__)
            stream.close()
            self.close()
            return False
        if data:
            self._out.appendleft(chunk(data) if stream.chunked else bytes(data))
        return True

    def _take_pushed(self, body: PushBody) -> bool:
        data = body.take()
        if data is None:
            body.close()
            if body.failed:
                self.close()  # no last chunk: the client sees the body was cut short
                return False
            self._out.popleft()
            if body.chunked:
                self._out.appendleft(LAST_CHUNK)
            return True
        if data:
            self._out.appendleft(chunk(data) if body.chunked else data)
            return True
        # Nothing yet: wait for a push instead of polling the socket for writability.
        self._push_wait = True
        body.waiter = self._on_pushed
        self.deadline = float("inf")
        return False

    def _on_pushed(self) -> None:
        self._push_wait = False
        if self.sock.fileno() >= 0:
            self.flush()
            self._update_interest()
