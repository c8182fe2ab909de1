"""Streamed bodies as the HTTP protocol writes them: an iterator run on the loop, or a
PushBody fed by other code (event streams, pooled handlers' generators), each giving its
wire bytes (chunks for HTTP/1.1, raw for HTTP/1.0 close-delimited bodies) one pull at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from gateway.http.writer import LAST_CHUNK, chunk
from gateway.response import PushBody


class StreamBody:
    """An iterator body pulled on the loop: each item becomes one chunk."""

    __slots__ = ("chunked", "iterator")

    failed = False  # an iterator that raises is reported by pull() raising

    def __init__(self, iterator: Iterator[Any], chunked: bool) -> None:
        self.iterator = iterator
        self.chunked = chunked

    def pull(self) -> bytes | None:
        """The next piece on the wire, or None at the end. Raises what the iterator
        raises, and TypeError for an item that is not bytes or str."""
        for data in self.iterator:
            if isinstance(data, str):
                data = data.encode()
            elif not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"streamed body yielded {type(data).__name__!r}, not bytes or str")
            if data:
                return chunk(bytes(data)) if self.chunked else bytes(data)
        return None

    def tail(self) -> bytes:
        return LAST_CHUNK if self.chunked else b""

    def set_waiter(self, waiter: Callable[[], None]) -> None:
        raise AssertionError("an iterator body never waits")  # pull() never gives b""

    def close(self) -> None:
        close = getattr(self.iterator, "close", None)
        if close is not None:
            close()


class PushedStream:
    """A PushBody being written: b"" from pull() means nothing yet (set_waiter to hear of
    the next push); `failed` means it ended broken and must not get its last chunk."""

    __slots__ = ("body", "chunked")

    def __init__(self, body: PushBody, chunked: bool) -> None:
        body.chunked = chunked
        self.body = body
        self.chunked = chunked

    @property
    def failed(self) -> bool:
        return self.body.failed

    def pull(self) -> bytes | None:
        data = self.body.take()
        if data and self.chunked:
            return chunk(data)
        return data

    def tail(self) -> bytes:
        return LAST_CHUNK if self.chunked else b""

    def set_waiter(self, waiter: Callable[[], None]) -> None:
        self.body.waiter = waiter

    def close(self) -> None:
        self.body.close()


Stream = StreamBody | PushedStream


def is_head_request_error(buffered: bytes) -> bool:
    """Whether the unreadable request at the start of `buffered` is a HEAD: its request
    line begins "HEAD " (stray empty lines before it aside), so its answer has no body."""
    return buffered.lstrip(b"\r\n").startswith(b"HEAD ")
