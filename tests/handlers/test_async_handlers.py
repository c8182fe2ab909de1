"""`async def` handlers through a real server: the sync contract (return values, HTTPError,
500 naming the request id, 504 that cancels the handler), awaited bodies, concurrency on
the one async loop (not the pool), async generators streamed with backpressure (SSE)."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from gateway.cli import main
from tests.support import connect, wait_for, write_site

SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    handler_threads = 1
    handler_queue = 0
    timeouts = { handler = "500ms" }

    [[route]]
    path = "/r/{kind}"
    methods = ["GET", "POST"]
    handler = "api.aio:returns"

    [[route]]
    path = "/wait/{name}"
    handler = "api.aio:wait"

    [[route]]
    path = "/set/{name}"
    handler = "api.aio:set_event"

    [[route]]
    path = "/stuck"
    handler = "api.aio:stuck"

    [[route]]
    path = "/cancelled"
    handler = "api.aio:cancelled"

    [[route]]
    path = "/count"
    handler = "api.aio:count"

    [[route]]
    path = "/events"
    handler = "api.aio:events"

    [[route]]
    path = "/sse"
    handler = "api.aio:sse"

    [[route]]
    path = "/flood"
    handler = "api.aio:flood"

    [[route]]
    path = "/api/strict"
    handler = "api.aio:strict"
    json = true
"""

AIO = """
    import asyncio
    from gateway import HTTPError, Response

    EVENTS = {}
    STATE = {"cancelled": 0, "produced": 0}

    async def returns(request):
        kind = request.params["kind"]
        if kind == "json":
            return {"got": await request.json(), "method": request.method}
        if kind == "body":
            return await request.body()
        if kind == "form":
            form = await request.form()
            return {"name": form.get("name")}
        if kind == "tuple":
            return 201, {"created": True}, {"x-made": "yes"}
        if kind == "none":
            return None
        if kind == "str":
            return "text"
        if kind == "response":
            return Response(418, "short and stout", {"x-tea": "yes"})
        if kind == "http":
            raise HTTPError(409, "already exists", {"x-why": "dup"})
        if kind == "boom":
            raise RuntimeError("kaboom")
        if kind == "bad":
            return object()
        if kind == "query":
            return request.query.getlist("q")
        return {"kind": kind}

    def _event(name):
        return EVENTS.setdefault(name, asyncio.Event())

    async def wait(request):
        await asyncio.wait_for(_event(request.params["name"]).wait(), 5)
        return "woken"

    async def set_event(request):
        _event(request.params["name"]).set()
        return "set"

    async def stuck(request):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            STATE["cancelled"] += 1
            raise

    async def cancelled(request):
        return STATE

    async def count(request):
        for i in range(3):
            yield f"{i};"
            await asyncio.sleep(0)

    async def sse():
        yield "data: one\\n\\n"

    async def events(request):
        async def stream():
            yield "data: one\\n\\n"
            yield b"data: two\\n\\n"
        return Response(200, stream(), {"content-type": "text/event-stream"})

    async def flood(request):
        chunk = b"x" * 65536
        for _ in range(2000):
            STATE["produced"] += 1
            yield chunk

    async def strict(request):
        raise HTTPError(422, "bad input")
"""


FILES = {"api/__init__.py": "", "api/aio.py": AIO}
GOOD = SITE.replace('handler = "api.aio:sse"', 'handler = "api.aio:count"')


@pytest.fixture
def server(site):
    return site(GOOD, FILES)


def test_every_return_type_works_as_for_sync_handlers(client: httpx.Client) -> None:
    assert client.post("/r/json", json={"a": 1}).json() == {"got": {"a": 1}, "method": "POST"}
    assert client.post("/r/body", content=b"raw").content == b"raw"
    assert client.post("/r/form", data={"name": "ada"}).json() == {"name": "ada"}
    made = client.get("/r/tuple")
    assert (made.status_code, made.json(), made.headers["x-made"]) == (
        201,
        {"created": True},
        "yes",
    )
    assert client.get("/r/none").status_code == 204
    assert client.get("/r/str").text == "text"
    tea = client.get("/r/response")
    assert (tea.status_code, tea.text, tea.headers["x-tea"]) == (418, "short and stout", "yes")
    assert client.get("/r/query?q=1&q=2").json() == ["1", "2"]


def test_errors_answer_as_for_sync_handlers(client: httpx.Client) -> None:
    conflict = client.get("/r/http")
    assert (conflict.status_code, conflict.text, conflict.headers["x-why"]) == (
        409,
        "already exists\n",
        "dup",
    )
    boom = client.get("/r/boom")
    assert boom.status_code == 500 and "request id" in boom.text and "kaboom" not in boom.text
    assert client.get("/r/bad").status_code == 500  # an unknown return type
    assert client.get("/r/str").text == "text"  # still serving


def test_async_handlers_run_concurrently_off_the_pool(client: httpx.Client, server) -> None:
    # One pool thread and no queue: a sync handler waiting here would make the second
    # request a 503. Two async handlers wait together on the one async loop.
    with httpx.Client(base_url=server.url, timeout=10) as other:
        results: list[str] = []
        waiters = [
            threading.Thread(target=lambda: results.append(other.get("/wait/a").text))
            for _ in range(1)
        ]
        for thread in waiters:
            thread.start()
        second = client.get("/r/plain")
        assert second.status_code == 200
        assert client.get("/set/a").text == "set"
        for thread in waiters:
            thread.join(10)
        assert results == ["woken"]


def test_a_handler_over_the_timeout_gets_504_and_is_cancelled(client: httpx.Client) -> None:
    response = client.get("/stuck")
    assert response.status_code == 504
    assert "timed out" in response.text
    wait_for(lambda: client.get("/cancelled").json()["cancelled"] == 1)


def test_async_generator_streams_chunked(client: httpx.Client) -> None:
    response = client.get("/count")
    assert response.text == "0;1;2;"
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["content-type"] == "application/octet-stream"
    sse = client.get("/count", headers={"accept": "text/event-stream"})
    assert sse.headers["content-type"] == "text/event-stream"


def test_a_response_with_an_async_generator_body_streams(client: httpx.Client) -> None:
    with client.stream("GET", "/events") as response:
        assert response.headers["content-type"] == "text/event-stream"
        assert b"".join(response.iter_bytes()) == b"data: one\n\ndata: two\n\n"


def test_a_client_that_does_not_read_stops_the_generator(server, client) -> None:
    sock = connect(server.port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b"GET /flood HTTP/1.1\r\nhost: x\r\n\r\n")

    def produced() -> int:
        return int(client.get("/cancelled").json()["produced"])

    # The count stops growing while the socket is not read: the generator waits.
    last = -1

    def settled() -> bool:
        nonlocal last
        now, last = produced(), produced()
        return now > 0 and now == last

    wait_for(settled)
    assert produced() < 400  # 25 MiB of 128 MiB: bounded by socket buffers, not the body
    sock.close()


def test_a_route_marked_json_answers_problem_json(client: httpx.Client) -> None:
    response = client.get("/api/strict")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "bad input"


def test_check_names_a_handler_that_cannot_take_the_request(tmp_path, capsys) -> None:
    config = write_site(tmp_path, SITE, FILES)
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "handler 'api.aio:sse' cannot take the request" in err
    assert "async def sse(request)" in err


def test_routes_show_which_handlers_are_async(tmp_path, capsys) -> None:
    config = write_site(tmp_path, GOOD, FILES)
    assert main(["routes", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "api.aio:returns (async)" in out and "api.aio:count (asyncgen)" in out


DEV = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [dev]
    reload = true

    [[route]]
    path = "/r/{kind}"
    handler = "api.aio:returns"

    [[route]]
    path = "/sync"
    handler = "api.crash:crash"
"""

CRASH = """
def crash(request):
    secret_local = "visible in the frame"
    raise ValueError("sync kaboom")
"""

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_dev_mode_shows_the_traceback_page_to_a_browser(site) -> None:
    running = site(DEV, {**FILES, "api/crash.py": CRASH})
    with httpx.Client(base_url=running.url, timeout=10) as client:
        for path, text in (("/r/boom", "kaboom"), ("/sync", "sync kaboom")):
            page = client.get(path, headers=HTML)
            assert page.status_code == 500
            assert page.headers["content-type"].startswith("text/html")
            assert text in page.text and "raise " in page.text  # the frame's source line
            api = client.get(path, headers={"accept": "application/json"})
            assert api.headers["content-type"] == "application/problem+json"
            assert text not in api.text


def test_production_never_shows_the_traceback(client: httpx.Client) -> None:
    page = client.get("/r/boom", headers=HTML)
    assert page.status_code == 500
    assert "kaboom" not in page.text and page.headers["content-type"].startswith("text/plain")
