"""Test a site without a socket: `httpx.Client(transport=gateway.testing.Transport("gateway.toml"))`
sends each request as bytes through the same parser, App and response writer the server
uses, with no network and no threads (pooled handlers run in the calling thread)."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import httpx

from gateway.app import App, PoolCall, build_app
from gateway.asynccall import AsyncCall
from gateway.config.load import load_config
from gateway.errors import HTTPError, ProtocolError
from gateway.http.events import NEED_DATA, PAUSED, Data, EndOfMessage, RequestHead
from gateway.http.headers import Headers
from gateway.http.parser import RequestParser
from gateway.http.writer import Framing, HeaderError, ResponseWriter
from gateway.proxy.call import ProxyCall
from gateway.proxy.oneshot import proxy_once
from gateway.proxy.seams import Failure
from gateway.request import Request, build_request
from gateway.response import FileBody, PushBody, Response

__all__ = ["ProxyRouteError", "Transport"]


class ProxyRouteError(NotImplementedError):
    """A proxied request that cannot be answered in process: a WebSocket upgrade (it needs
    a live connection), or an upstream that failed after its answer began."""


class Transport(httpx.BaseTransport):
    """An httpx transport that answers from a gateway App in this process. Give it the
    path of a gateway.toml, or an App you built. What the wire would carry is what you get:
    framing headers from the writer, no body for HEAD, 4xx for requests the parser rejects.
    A streamed body is read to its end (an event stream: what was pushed so far)."""

    def __init__(
        self, app: App | str | os.PathLike[str], client: tuple[str, int] = ("testclient", 50000)
    ) -> None:
        self.app = app if isinstance(app, App) else build_app(load_config(Path(app)))
        self.client = client
        self._owns_app = not isinstance(app, App)
        self._writer = ResponseWriter()
        self._ids = itertools.count(1)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._writer.set_date(time.time())
        parser = RequestParser(
            max_header_bytes=self.app.config.server.max_header_bytes,
            max_headers=self.app.config.server.max_headers,
            max_body_bytes=self.app.config.server.max_body_bytes,
        )
        parser.feed(_request_bytes(request))
        head, body, error = _read_request(parser)
        if error is not None:
            return self._error(request, error, getattr(error, "head", None) or head)
        assert head is not None
        try:
            gateway_request = build_request(head, body, self.client, f"test-{next(self._ids)}")
        except HTTPError as exc:
            return self._error(request, exc, head)
        result = self.app.handle(gateway_request)
        if isinstance(result, ProxyCall):  # to the real upstream, on a loop of its own
            response = self._proxied(gateway_request, result, head, body)
            return self._to_httpx(request, gateway_request, response)
        response = result.run() if isinstance(result, (PoolCall, AsyncCall)) else result
        return self._to_httpx(request, gateway_request, response)

    def _proxied(
        self, request: Request, call: ProxyCall, head: RequestHead, body: bytes
    ) -> Response:
        got = proxy_once(self.app, call, head, body, self.client[0])
        failure = got.failure
        if got.aborted:
            raise ProxyRouteError(_proxy_message(request, call, failure))
        if failure is not None:  # no answer: the server's 502/503/504, with its text
            wait = failure.retry_after
            extra = [] if wait is None else [("retry-after", str(wait))]
            detail = f"{failure.detail} (request id {request.id})"
            return self.app.render_error(failure.status, request, call.target, detail, extra)
        response = Response(got.status, b"".join(got.body), list(got.fields))
        finished: Response = call.target.finish(request, response)  # route headers, CORS
        return finished

    def close(self) -> None:
        if self._owns_app:
            self.app.close()

    def _error(
        self, request: httpx.Request, exc: HTTPError, head: RequestHead | None
    ) -> httpx.Response:
        gateway_request = None
        if head is not None:
            try:
                gateway_request = build_request(head, b"", self.client, "test-error")
            except HTTPError:
                gateway_request = None
        response = self.app.protocol_error_response(exc, gateway_request)
        if gateway_request is None:
            gateway_request = Request(request.method, request.url.path, Headers([]))
        return self._to_httpx(request, gateway_request, response)

    def _to_httpx(
        self, request: httpx.Request, sent: Request, response: Response
    ) -> httpx.Response:
        body, length = _body_bytes(response)
        try:
            head, framing = self._head(response, length, sent)
        except HeaderError:  # as the server does: a head that cannot be written is a 500
            response = self.app.render_error(500, sent, detail="internal server error")
            body, length = _body_bytes(response)
            head, framing = self._head(response, length, sent)
        status, headers = _parse_head(head)
        content = b"" if framing is Framing.NONE else body
        return httpx.Response(status, headers=headers, content=content, request=request)

    def _head(self, response: Response, length: int | None, sent: Request) -> tuple[bytes, Framing]:
        return self._writer.head(
            response.status,
            response.headers,
            content_length=length,
            keep_alive=True,
            http_version=sent.http_version,
            head_request=sent.method == "HEAD",
        )


def _request_bytes(request: httpx.Request) -> bytes:
    """The request as a client would send it (HTTP/1.1, origin-form target)."""
    body = request.read()
    target = request.url.raw_path.decode("ascii")
    lines = [f"{request.method} {target} HTTP/1.1"]
    names = {name.lower() for name, _ in request.headers.multi_items()}
    if "host" not in names:
        lines.append(f"host: {request.url.netloc.decode('ascii')}")
    lines += [f"{name}: {value}" for name, value in request.headers.multi_items()]
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _read_request(
    parser: RequestParser,
) -> tuple[RequestHead | None, bytes, ProtocolError | None]:
    """The head and body of the one request fed, or the error (with the head if it came)."""
    head: RequestHead | None = None
    parts: list[bytes] = []
    while True:
        try:
            event = parser.next_event()
        except ProtocolError as exc:
            return head, b"", exc
        if isinstance(event, RequestHead):
            head = event
        elif isinstance(event, Data):
            parts.append(event.data)
        elif isinstance(event, EndOfMessage) or event is PAUSED:
            return head, b"".join(parts), None
        elif event is NEED_DATA:
            return head, b"", ProtocolError(400, "request ended before its body did")


def _body_bytes(response: Response) -> tuple[bytes, int | None]:
    """The whole body, and the Content-Length the server would send (None: chunked)."""
    body = response.body
    if isinstance(body, bytes):
        return body, len(body)
    if isinstance(body, FileBody):
        try:
            return os.pread(body.fd, body.length, body.offset), body.length
        finally:
            body.close()
    if isinstance(body, PushBody):
        data = body.take() or b""
        body.close()
        return data, None
    chunks: list[bytes] = []
    try:
        for item in body:
            chunks.append(item.encode() if isinstance(item, str) else bytes(item))
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return b"".join(chunks), None


def _parse_head(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
    return status, headers


def _proxy_message(request: Request, call: ProxyCall, failure: Failure | None) -> str:
    name = call.target.label  # "proxy api" or "proxy 127.0.0.1:9001"
    why = failure.detail if failure is not None else "no answer"
    return (
        f"gateway.testing cannot answer {request.method} {request.path!r} (route "
        f"{request.route!r}, {name}): {why}; run `gateway serve` and point httpx at it for "
        "this (see docs/handlers.md, testing)"
    )
