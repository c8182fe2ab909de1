"""What the HTTP protocol writes, as bytes: an answer's head (checked by the writer, or the
app's 500 instead), the answer to a request that could not be read, and streamed bodies (an
iterator run on the loop, or a PushBody fed by other code) one pull of wire bytes at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from gateway.errors import HTTPError
from gateway.http.events import RequestHead
from gateway.http.writer import LAST_CHUNK, Framing, HeaderError, chunk
from gateway.request import Request, build_request
from gateway.response import FileBody, PushBody, Response
from gateway.server.context import ConnContext

log = logging.getLogger("gateway.server")


def encode_head(
    ctx: ConnContext, request: Request, response: Response, keep_alive: bool
) -> tuple[Response, bytes, Framing, int | None]:
    """The head bytes for `response`, its framing and its body's length (None when
    streamed). One that cannot be written (a header with CR/LF) is replaced by the app's
    500, never sent half-checked."""
    body = response.body
    if type(body) is bytes:
        length: int | None = len(body)
    elif isinstance(body, FileBody):
        length = body.length
    else:  # iterators and PushBody: length unknown, chunked
        length = None
    writer = ctx.writer
    head_request = request.method == "HEAD"
    try:
        head, framing = writer.head(
            response.status,
            response.headers,
            content_length=length,
            keep_alive=keep_alive,
            http_version=request.http_version,
            head_request=head_request,
        )
    except HeaderError as exc:
        log.error("request %s: response cannot be written: %s", request.id, exc)
        response.close()
        response = ctx.app.render_error(500, request, detail="internal server error")
        assert type(response.body) is bytes
        length = len(response.body)
        head, framing = writer.head(
            500,
            response.headers,
            content_length=length,
            keep_alive=keep_alive,
            http_version=request.http_version,
            head_request=head_request,
        )
    return response, head, framing, length


def error_answer(
    ctx: ConnContext,
    exc: HTTPError,
    head: RequestHead | None,
    client: tuple[str, int],
    buffered: bytes,
) -> tuple[Request | None, int, bytes, int]:
    """The answer to a request that could not be read, as (request if its head was sound,
    status, bytes to send, body length). A HEAD (when the method is known: from its head,
    or the request line at the start of `buffered`) gets the head only."""
    request = None
    if head is not None:
        try:
            request = build_request(head, b"", client, ctx.next_request_id())
        except HTTPError:
            request = None
    response = ctx.app.protocol_error_response(exc, request)
    body = response.body
    assert type(body) is bytes
    is_head = head.method == "HEAD" if head is not None else is_head_request_error(buffered)
    data, _ = ctx.writer.head(
        response.status,
        response.headers,
        content_length=len(body),
        keep_alive=False,
        head_request=is_head,
    )
    return request, response.status, data if is_head else data + body, len(body)


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


def stream_of(body: Any, chunked: bool) -> Stream:
    """A streamed response body, ready to pull."""
    if isinstance(body, PushBody):
        return PushedStream(body, chunked)
    return StreamBody(iter(body), chunked)


def is_head_request_error(buffered: bytes) -> bool:
    """Whether the unreadable request at the start of `buffered` is a HEAD: its request
    line begins "HEAD " (stray empty lines before it aside), so its answer has no body."""
    return buffered.lstrip(b"\r\n").startswith(b"HEAD ")
