"""Request: what a handler (and the app's static and CORS code) sees of one HTTP request.
Built by the server from a parsed RequestHead and the whole body; query and form are
parsed lazily, the first time they are asked for. A body the server kept in a temporary
file, or one still arriving, makes a BodyRequest: its `body` is read when asked for."""

from __future__ import annotations

import json as _json
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import parse_qsl

from gateway.datastructures import MultiDict
from gateway.errors import HTTPError
from gateway.forms import parse_form
from gateway.http.events import RequestHead
from gateway.http.headers import Headers
from gateway.router.paths import split_path


class Request:
    """One request. `path` is percent-decoded; `params` holds the route's converted
    parameters; `body` is the whole body as bytes; `client` is (host, port)."""

    __slots__ = (
        "_form",
        "_query",
        "body",
        "client",
        "headers",
        "host",
        "http_version",
        "id",
        "method",
        "params",
        "path",
        "query_string",
        "raw_path",
        "route",
        "segments",
    )

    def __init__(
        self,
        method: str,
        path: str,
        headers: Headers,
        body: bytes = b"",
        *,
        query_string: str = "",
        raw_path: str | None = None,
        segments: tuple[str, ...] = (),
        client: tuple[str, int] = ("", 0),
        id: str = "",
        http_version: str = "1.1",
        host: str | None = None,
    ) -> None:
        self._fill(
            method,
            path,
            headers,
            body,
            query_string,
            raw_path if raw_path is not None else path,
            segments,
            client,
            id,
            http_version,
            host,
        )

    def _fill(
        self,
        method: str,
        path: str,
        headers: Headers,
        body: bytes,
        query_string: str,
        raw_path: str,
        segments: tuple[str, ...],
        client: tuple[str, int],
        id: str,
        http_version: str,
        host: str | None,
    ) -> None:
        """Every slot, from positional arguments: __init__, and build_request once per
        request (without __init__'s keyword handling)."""
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.query_string = query_string
        self.raw_path = raw_path
        self.segments = segments
        self.client = client
        self.id = id
        self.http_version = http_version
        # The authority a request names: the absolute-form target's, else the Host header
        # (RFC 9112 §3.2.2); routes match on it.
        self.host = host if host is not None else headers.get("host")
        self.params: dict[str, Any] = {}
        self.route = "(unmatched)"  # set by App.handle: the matched route's metrics label
        self._query: MultiDict | None = None
        self._form: MultiDict | None = None

    @property
    def query(self) -> MultiDict:
        if self._query is None:
            self._query = MultiDict(parse_qsl(self.query_string, keep_blank_values=True))
        return self._query

    def json(self) -> Any:
        """The body parsed as JSON; a body that is not JSON is the client's error (400)."""
        try:
            return _json.loads(self.body)
        except ValueError as exc:
            raise HTTPError(400, f"request body is not valid json: {exc}") from None
        except RecursionError:
            raise HTTPError(400, "request body is json nested too deeply") from None

    def form(self) -> MultiDict:
        """Fields of an urlencoded or multipart/form-data body; files arrive as UploadedFile."""
        if self._form is None:
            self._form = parse_form(self.headers.get("content-type") or "", self.body)
        return self._form

    def stream(self) -> Iterator[bytes]:
        """The body in pieces (`for chunk in request.stream()`): here it arrived whole."""
        if self.body:
            yield self.body

    @property
    def body_length(self) -> int:
        """The body's size in bytes, without reading a body kept in a file."""
        return len(self.body)

    def __repr__(self) -> str:
        return f"<Request {self.id} {self.method} {self.path}>"


class BodySource(Protocol):
    """A body kept outside the Request: a temporary file, or one still arriving."""

    size: int  # bytes so far

    def whole(self) -> bytes: ...  # all of it (waits for the rest, if it is arriving)

    def chunks(self) -> Iterator[bytes]: ...  # its pieces, as they come

    def close(self) -> None: ...


class BodyRequest(Request):
    """A Request whose body is a BodySource: `body` reads it whole on first use (from
    the file, or waiting for the rest); `stream()` gives its pieces without holding the
    whole body in memory. Either one, not both, for a body still arriving."""

    __slots__ = ("_source",)

    def __init__(
        self, method: str, path: str, headers: Any, source: BodySource, **kwargs: Any
    ) -> None:
        self._source = source  # in the place Request takes its body bytes
        super().__init__(method, path, headers, b"", **kwargs)

    @property
    def body(self) -> bytes:
        data: bytes | None = _BODY_SLOT.__get__(self)
        if data is None:
            data = self._source.whole()
            _BODY_SLOT.__set__(self, data)
        return data

    @body.setter
    def body(self, value: bytes | None) -> None:
        _BODY_SLOT.__set__(self, value or None)  # b"" (from __init__): not read yet

    def stream(self) -> Iterator[bytes]:
        data = _BODY_SLOT.__get__(self)
        if data is not None:  # read whole already
            if data:
                yield data
            return
        yield from self._source.chunks()

    @property
    def body_length(self) -> int:
        return self._source.size

    @property
    def async_body(self) -> Any:
        """The body as an async handler reads it while it arrives (gateway.aio.AsyncBody),
        or None."""
        return getattr(self._source, "async_body", None)

    def form(self) -> MultiDict:
        """As Request.form(), read from the body's pieces: file parts over 1 MiB go to
        temporary files instead of memory."""
        if self._form is None:
            self._form = parse_form(self.headers.get("content-type") or "", self.stream())
        return self._form

    def close(self) -> None:
        """Let go of the file (the server calls this once the answer is sent)."""
        self._source.close()


_BODY_SLOT: Any = Request.__dict__["body"]  # the slot a BodyRequest's property stands for


def build_request(
    head: RequestHead, body: bytes | BodySource, client: tuple[str, int], request_id: str
) -> Request:
    """A Request from a parsed head and its whole body (or its BodySource). The path is
    decoded here, once per distinct raw path (HTTPError 400 for one that cannot be)."""
    decoded = _DECODED.get(head.path)
    if decoded is None:
        decoded = _decode_path(head.path)
    segments, path = decoded
    if type(body) is not bytes:  # a body still arriving or spooled
        return BodyRequest(
            head.method,
            path,
            head.headers,
            body,  # type: ignore[arg-type]
            query_string=head.query,
            raw_path=head.path,
            segments=segments,
            client=client,
            id=request_id,
            http_version=head.http_version,
            host=head.host,
        )
    request = _new(Request)  # Request.__init__ without its keyword handling: per request
    request._fill(
        head.method,
        path,
        head.headers,
        body,
        head.query,
        head.path,
        segments,
        client,
        request_id,
        head.http_version,
        head.host,
    )
    return request


_new = object.__new__
# Raw paths decoded before -> (segments, decoded path): clients repeat the same few paths.
# Emptied when full: bounded, with no bookkeeping per hit.
_DECODED: dict[str, tuple[tuple[str, ...], str]] = {}
_MAX_DECODED = 1024


def _decode_path(raw_path: str) -> tuple[tuple[str, ...], str]:
    if raw_path == "*":
        decoded: tuple[tuple[str, ...], str] = ((), "*")
    else:
        segments = split_path(raw_path)  # HTTPError 400: nothing is kept
        decoded = (segments, "/" + "/".join(segments))
    if len(_DECODED) >= _MAX_DECODED:
        _DECODED.clear()
    _DECODED[raw_path] = decoded
    return decoded
