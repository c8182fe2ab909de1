"""Response: what the app hands the server to write. The body is bytes, a FileBody
(an open fd the server streams with sendfile and then closes), or an iterator of bytes
(streamed chunked). Framing headers (Content-Length, Transfer-Encoding, Connection,
Date, Server) belong to the writer and are never set here."""

from __future__ import annotations

import json as _json
import json.encoder as _json_encoder_module
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as _encode_string
from typing import Any

HeaderList = list[tuple[str, str]]
HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]] | None


@dataclass(slots=True)
class FileBody:
    """`length` bytes of an open file from `offset`. Whoever ends up holding it (the
    connection, or the code that drops the response) must call close() exactly once;
    with `release` set the fd is shared (a cache's) and close() only releases it."""

    fd: int
    offset: int
    length: int
    release: Callable[[], None] | None = None  # instead of os.close, for shared (cached) fds

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            if self.release is not None:
                self.release()
            else:
                os.close(fd)


def _json_encoder() -> Callable[[Any], str]:
    """A compact JSON encoder, built once. JSONEncoder.encode builds a new C encoder (and a
    dict to detect cycles) on every call: two thirds of encoding a small dict. This is that
    same C encoder made once, without the cycle check (a cyclic value then ends in
    RecursionError instead of ValueError: a handler's bug, a 500 either way); the Python
    one when the C one is missing or takes other arguments."""
    encoder = _json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    make = getattr(_json_encoder_module, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    try:
        iterencode = make(None, encoder.default, _encode_string, None, ":", ",", False, False, True)
    except TypeError:  # another Python's signature
        return encoder.encode

    def encode(value: Any) -> str:
        return "".join(iterencode(value, 0))

    sample = {"a": [1, 2.5, None, True, '\u00e9\n"x'], "b": {"c": -0.0, "d": 1e100}}
    try:
        same = encode(sample) == encoder.encode(sample)
    except Exception:
        same = False
    return encode if same else encoder.encode


_encode_json = _json_encoder()

Body = bytes | FileBody | Iterator[bytes] | Iterable[bytes]  # or PushBody, below


class Response:
    """An HTTP response. `Response(200, "hi")`, `Response.json({...})`,
    `Response(status=302, headers={"location": "/"})`."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        body: bytes | str | FileBody | Iterable[bytes] = b"",
        headers: HeadersLike = None,
        content_type: str | None = None,
    ) -> None:
        self.status = status
        self.headers: HeaderList = to_header_list(headers)
        if isinstance(body, str):
            body = body.encode()
            if content_type is None and not self.has_header("content-type"):
                content_type = "text/plain; charset=utf-8"
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        self.body: Body = body
        # A content type in `headers` wins over the default one (json, text, a str body).
        if content_type is not None and not (self.headers and self.has_header("content-type")):
            self.headers.append(("content-type", content_type))

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: HeadersLike = None) -> Response:
        body = _encode_json(data).encode()
        if headers is None and cls is Response:  # the usual case, without __init__'s checks
            return _made(status, body, [("content-type", "application/json")])
        return cls(status, body, headers, "application/json")

    @classmethod
    def text(cls, text: str, status: int = 200, headers: HeadersLike = None) -> Response:
        return cls(status, text.encode(), headers, "text/plain; charset=utf-8")

    @classmethod
    def html(cls, html: str, status: int = 200, headers: HeadersLike = None) -> Response:
        return cls(status, html.encode(), headers, "text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location: str, status: int = 307) -> Response:
        return cls(status, b"", [("location", location)])

    def has_header(self, name: str) -> bool:
        lowered = name.lower()
        return any(n.lower() == lowered for n, _ in self.headers)

    def set_headers(self, headers: HeadersLike) -> None:
        """Add `headers`, each replacing any header of the same name (case-insensitive)
        already set: what a handler gives wins over the defaults."""
        given = to_header_list(headers)
        if not given:
            return
        names = {name.lower() for name, _ in given}
        self.headers = [h for h in self.headers if h[0].lower() not in names]
        self.headers.extend(given)

    def get_header(self, name: str) -> str | None:
        lowered = name.lower()
        for n, v in self.headers:
            if n.lower() == lowered:
                return v
        return None

    def close(self) -> None:
        """Release what the body holds (an fd, a generator) when it will not be sent."""
        body = self.body
        if isinstance(body, FileBody) or (hasattr(body, "close") and not isinstance(body, bytes)):
            body.close()

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers!r}>"


def _made(status: int, body: bytes, headers: HeaderList) -> Response:
    """A Response from parts already in their final form (what __init__ would make of them):
    for the hot paths that build one per request."""
    response = object.__new__(Response)
    response.status = status
    response.body = body
    response.headers = headers
    return response


def to_header_list(headers: HeadersLike) -> HeaderList:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


class Switch(Response):
    """101 Switching Protocols: once its head is written, the connection belongs to the
    protocol `protocol_factory()` makes (a gateway.server.transport.Protocol): it gets
    connection_made(transport), then every byte after the request. Return it from a handler
    that accepted a request's Upgrade (give the Upgrade and Connection headers)."""

    __slots__ = ("protocol_factory",)

    def __init__(self, protocol_factory: Callable[[], Any], headers: HeadersLike = None) -> None:
        super().__init__(101, b"", headers)
        self.protocol_factory = protocol_factory


class PushBody:
    """A body written as it is produced, for event streams. Code on the loop thread calls
    push(data) and end(); the connection sends what has arrived as chunks and waits for
    more without blocking. `on_close` runs once when the connection lets go of it."""

    __slots__ = ("_chunks", "_ended", "_on_close", "chunked", "failed", "waiter")

    def __init__(self, on_close: Callable[[PushBody], None] | None = None) -> None:
        self._chunks: list[bytes] = []
        self._ended = False
        self.failed = False  # ended by an error: the connection closes without a last chunk
        self.chunked = True  # the connection sets False for HTTP/1.0 (close-delimited)
        self._on_close = on_close
        self.waiter: Callable[[], None] | None = None

    def push(self, data: bytes) -> None:
        if self._ended:
            return
        self._chunks.append(data)
        self._wake()

    def end(self) -> None:
        self._ended = True
        self._wake()

    def fail(self) -> None:
        """End the body as broken: the client must not take it for complete."""
        self.failed = True
        self.end()

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None:
            waiter()

    def take(self) -> bytes | None:
        """Everything pushed so far (b"" when nothing yet); None once ended and drained."""
        if self._chunks:
            data = b"".join(self._chunks)
            self._chunks.clear()
            return data
        return None if self._ended else b""

    def close(self) -> None:
        self._ended = True
        self.waiter = None
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self)
