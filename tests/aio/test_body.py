"""AsyncBody / AsyncRequest: a body fed from the server thread, awaited on the async loop,
with reading paused above the high-water mark and resumed once the handler catches up."""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import urlencode

import pytest

from gateway.aio import AsyncBody, AsyncRequest, AsyncRunner
from gateway.errors import HTTPError
from gateway.http.headers import Headers
from gateway.request import Request
from tests.aio.support import wait_for


def _body(runner: AsyncRunner, **kwargs) -> AsyncBody:  # type: ignore[no-untyped-def]
    assert runner.loop is not None
    return AsyncBody(runner.loop, **kwargs)


def test_read_waits_for_bytes_fed_later(runner: AsyncRunner) -> None:
    body = _body(runner)
    got: list[bytes] = []

    async def reader() -> None:
        async for chunk in body:
            got.append(chunk)

    finished = threading.Event()
    runner.submit(reader, 5.0, lambda *_: finished.set())
    body.feed(b"hello ")
    wait_for(lambda: got == [b"hello "])
    body.feed(b"")  # nothing: ignored
    body.feed(b"world")
    body.feed_eof()
    assert finished.wait(5)
    assert got == [b"hello ", b"world"]


def test_partial_reads_and_end(runner: AsyncRunner) -> None:
    assert runner.loop is not None
    body = AsyncBody.complete(runner.loop, b"abcdef")

    async def reads() -> list[bytes]:
        return [await body.read(4), await body.read(4), await body.read(), await body.read()]

    assert runner.run(reads, 5.0) == [b"abcd", b"ef", b"", b""]


def test_an_error_reaches_the_reader(runner: AsyncRunner) -> None:
    body = _body(runner)
    body.feed(b"partial")
    body.feed_error(HTTPError(400, "client closed the connection mid-body"))

    async def read_all() -> bytes:
        return await body.readall()

    with pytest.raises(HTTPError, match="mid-body"):
        runner.run(read_all, 5.0)


def test_backpressure_pauses_and_resumes(runner: AsyncRunner) -> None:
    events: list[tuple[str, str]] = []

    def pause() -> None:
        events.append(("pause", threading.current_thread().name))

    def resume() -> None:
        events.append(("resume", threading.current_thread().name))

    body = _body(runner, pause=pause, resume=resume, high=10, low=4)
    for _ in range(5):
        body.feed(b"abc")  # 15 bytes unread: over the high-water mark once
    assert events == [("pause", threading.current_thread().name)]

    async def read_some(n: int) -> bytes:
        return await body.read(n)

    assert runner.run(lambda: read_some(3), 5.0) == b"abc"  # 12 left: still paused
    assert len(events) == 1
    for _ in range(3):
        runner.run(lambda: read_some(3), 5.0)  # down to 3: resume, on the async thread
    assert events[1] == ("resume", "gateway-async")
    body.feed(b"x" * 20)
    assert [e[0] for e in events] == ["pause", "resume", "pause"]


def _request(body: bytes = b"", content_type: str = "") -> Request:
    headers = Headers([("content-type", content_type)] if content_type else [])
    request = Request("POST", "/api/things", headers, b"", id="r1")
    request.params = {"id": 7}
    return request


def test_async_request_body_json_and_attributes(runner: AsyncRunner) -> None:
    body = _body(runner)
    request = AsyncRequest(_request(content_type="application/json"), body)
    assert request.method == "POST" and request.params == {"id": 7} and request.id == "r1"

    async def handler() -> object:
        return await request.json()

    done: list[object] = []
    runner.submit(handler, 5.0, lambda result, exc: done.append(exc or result))
    body.feed(b'{"name": ')
    body.feed(b'"ada"}')
    body.feed_eof()
    wait_for(lambda: bool(done))
    assert done == [{"name": "ada"}]
    assert runner.run(request.body, 5.0) == b'{"name": "ada"}'  # kept after the first read


def test_async_request_bad_json_is_400(runner: AsyncRunner) -> None:
    assert runner.loop is not None
    request = AsyncRequest(_request(), AsyncBody.complete(runner.loop, b"{nope"))
    with pytest.raises(HTTPError) as info:
        runner.run(request.json, 5.0)
    assert info.value.status == 400


def test_async_request_form(runner: AsyncRunner) -> None:
    assert runner.loop is not None
    data = urlencode({"a": "1", "b": "two"}).encode()
    request = AsyncRequest(
        _request(content_type="application/x-www-form-urlencoded"),
        AsyncBody.complete(runner.loop, data),
    )
    form = runner.run(request.form, 5.0)
    assert form["a"] == "1" and form["b"] == "two"


def test_streaming_then_reading_whole_is_an_error(runner: AsyncRunner) -> None:
    assert runner.loop is not None
    request = AsyncRequest(_request(), AsyncBody.complete(runner.loop, b"chunk"))

    async def stream_then_body() -> None:
        async for _ in request.stream():
            break
        await request.body()

    with pytest.raises(RuntimeError, match="already streamed"):
        runner.run(stream_then_body, 5.0)


def test_stream_after_body_replays_it(runner: AsyncRunner) -> None:
    assert runner.loop is not None
    request = AsyncRequest(_request(), AsyncBody.complete(runner.loop, b"whole"))

    async def body_then_stream() -> list[bytes]:
        await request.body()
        return [c async for c in request.stream()]

    assert runner.run(body_then_stream, 5.0) == [b"whole"]


def test_closed_loop_does_not_break_the_feeder() -> None:
    loop = asyncio.new_event_loop()
    body = AsyncBody(loop)
    loop.close()
    body.feed(b"late")  # the server keeps going
    body.feed_eof()
