"""The pieces together the way the app will call them (see the handlers report's wiring):
an `async def` handler awaits its body on the runner, its result goes through the same
to_response as sync handlers, then compression; an HTTPError becomes problem+json; an
async-generator handler becomes a streamed, compressed body."""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import AsyncIterator
from typing import Any

from gateway.aio import AsyncBody, AsyncGenBody, AsyncRequest, AsyncRunner, handler_kind
from gateway.compress import compress_for
from gateway.errors import HTTPError
from gateway.handlers import to_response
from gateway.http.headers import Headers
from gateway.problem import error_response
from gateway.request import Request
from tests.aio.support import FakeServerLoop


def _request(**headers: str) -> Request:
    fields = [(k.replace("_", "-"), v) for k, v in headers.items()]
    return Request("POST", "/api/items", Headers(fields), id="r-1")


def _run(runner: AsyncRunner, func: Any, request: AsyncRequest) -> tuple[Any, Any]:
    done: list[tuple[Any, Any]] = []
    finished = threading.Event()

    def on_done(result: Any, exc: BaseException | None) -> None:
        done.append((result, exc))
        finished.set()

    runner.submit(lambda: func(request), 5.0, on_done)
    assert finished.wait(5)
    return done[0]


def test_async_handler_result_is_converted_and_compressed(runner: AsyncRunner) -> None:
    async def create(request: Any) -> dict[str, Any]:
        item = await request.json()
        return {"created": item, "padding": "x" * 2000}

    assert handler_kind(create) == "async"
    plain = _request(accept_encoding="gzip", content_type="application/json")
    assert runner.loop is not None
    request = AsyncRequest(plain, AsyncBody.complete(runner.loop, b'{"name": "ada"}'))
    result, exc = _run(runner, create, request)
    assert exc is None
    response = compress_for(plain, to_response(result))
    assert response.get_header("content-encoding") == "gzip"
    assert isinstance(response.body, bytes)
    body = json.loads(zlib.decompress(response.body, 16 + zlib.MAX_WBITS))
    assert body["created"] == {"name": "ada"}


def test_async_http_error_becomes_problem_json(runner: AsyncRunner) -> None:
    async def fails(request: Any) -> None:
        raise HTTPError(404, "no such item")

    plain = _request(accept="application/json")
    assert runner.loop is not None
    _, exc = _run(runner, fails, AsyncRequest(plain, AsyncBody.complete(runner.loop, b"")))
    assert isinstance(exc, HTTPError)
    response = error_response(exc.status, exc.detail, request=plain, headers=exc.headers)
    assert response.get_header("content-type") == "application/problem+json"
    assert json.loads(response.body)["detail"] == "no such item"  # type: ignore[arg-type]


def test_async_generator_handler_streams_compressed(runner: AsyncRunner) -> None:
    async def ticks(request: Any) -> AsyncIterator[str]:
        for i in range(3):
            yield f"data: {i}\n\n"

    assert handler_kind(ticks) == "asyncgen"
    server = FakeServerLoop()
    plain = _request(accept_encoding="gzip")
    response = to_response(None)  # the app builds the head; the body is the generator's
    response.status = 200
    response.headers = [("content-type", "text/event-stream")]
    response.body = AsyncGenBody(ticks(plain), runner, server.call_soon_threadsafe)
    compress_for(plain, response)
    assert response.get_header("content-encoding") == "gzip"
    body = response.body
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    got = b""
    while True:
        data = body.take()  # type: ignore[union-attr]
        if data is None:
            break
        if data:
            got += decoder.decompress(data)
            continue
        woke: list[int] = []
        body.waiter = lambda woke=woke: woke.append(1)  # type: ignore[union-attr]
        server.run_until(lambda woke=woke: bool(woke))
    assert got == b"data: 0\n\ndata: 1\n\ndata: 2\n\n" and decoder.eof
