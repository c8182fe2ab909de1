"""Eager async handlers: an `async def` that can neither suspend nor reach the async loop's
objects answers on the server loop (no runner submit), with the same contract as any async
handler; everything else still goes to the async loop; a slow one moves there for good."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gateway.aio import AsyncRunner
from gateway.aio.eager import Eager, proves_eager
from gateway.errors import HTTPError
from gateway.response import Response

EVENTS: dict[str, asyncio.Event] = {}


def helper() -> None:
    pass


async def plain(request: Any) -> dict[str, str]:
    return {"hello": "w"}


async def reads_request(request: Any) -> Any:
    q = request.query.get("q")
    return Response(200, ",".join([x for x in request.query.getlist("q")]) + str(len(q or "")))


async def raises(request: Any) -> None:
    raise HTTPError(409, "taken")


async def awaits(request: Any) -> None:
    await asyncio.sleep(0)


async def sets_event(request: Any) -> None:
    EVENTS["a"].set()  # a loop object: only the async loop's thread may touch it


async def uses_asyncio(request: Any) -> None:
    asyncio.get_running_loop()


async def calls_helper(request: Any) -> None:
    helper()


async def iterates(request: Any) -> None:
    async for _ in request.stream():
        pass


async def imports(request: Any) -> None:
    import os  # noqa: F401


async def nested_method_call(request: Any) -> int:
    def inner(x: Any) -> None:
        x.set()

    return 1


class Handlers:
    async def method(self, request: Any) -> int:
        return 1


@pytest.mark.parametrize(
    ("func", "eager"),
    [
        (plain, True),
        (reads_request, True),
        (raises, True),
        (awaits, False),
        (sets_event, False),
        (uses_asyncio, False),
        (calls_helper, False),
        (iterates, False),
        (imports, False),
        (nested_method_call, False),
        (Handlers().method, False),
        (helper, False),  # not a coroutine function at all
    ],
)
def test_only_handlers_that_cannot_reach_the_loop_are_eager(func: Any, eager: bool) -> None:
    assert proves_eager(func) is eager


def test_a_slow_eager_route_strikes_twice_then_stays_on_the_async_loop() -> None:
    state = Eager("api:plain", plain, "async")
    assert state.on
    state.ran(0.001, 0.01)
    state.ran(0.05, 0.01)
    assert state.on  # one slow call may be the machine, not the handler
    state.ran(0.05, 0.01)
    assert not state.on
    assert not Eager("api:gen", plain, "asyncgen").on


SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"
    inline_limit = "2ms"

    [[route]]
    path = "/e/{kind}"
    handler = "api.aio:eager"

    [[route]]
    path = "/awaits"
    handler = "api.aio:awaits"

    [[route]]
    path = "/slow"
    handler = "api.aio:slow"
"""

AIO = """
    import asyncio
    from gateway import HTTPError, Response

    async def eager(request):
        kind = request.params["kind"]
        if kind == "tuple":
            return 201, {"made": request.query.get("name")}, {"x-made": "yes"}
        if kind == "response":
            return Response(418, "short and stout", {"x-tea": "yes"})
        if kind == "http":
            raise HTTPError(409, "already exists", {"x-why": "dup"})
        if kind == "boom":
            raise ValueError("kaboom")
        return {"kind": kind}

    async def awaits(request):
        await asyncio.sleep(0)
        return "awaited"

    async def slow(request):
        return str(sum(range(3_000_000)))
"""


@pytest.fixture
def submits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls handed to the async loop's thread."""
    calls: list[int] = []
    original = AsyncRunner.submit

    def counting(self: AsyncRunner, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AsyncRunner, "submit", counting)
    return calls


def test_eager_handlers_answer_on_the_server_loop(site: Any, submits: list[int]) -> None:
    server = site(SITE, {"api/__init__.py": "", "api/aio.py": AIO})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/e/json").json() == {"kind": "json"}
        made = client.get("/e/tuple?name=ada")
        assert (made.status_code, made.json(), made.headers["x-made"]) == (
            201,
            {"made": "ada"},
            "yes",
        )
        tea = client.get("/e/response")
        assert (tea.status_code, tea.text, tea.headers["x-tea"]) == (418, "short and stout", "yes")
        taken = client.get("/e/http")
        assert (taken.status_code, taken.headers["x-why"]) == (409, "dup")
        boom = client.get("/e/boom")
        assert boom.status_code == 500 and "kaboom" not in boom.text
        assert submits == []  # none of them left the server loop
        assert client.get("/awaits").text == "awaited"
        assert submits == [1]  # one that awaits runs on the async loop


def test_a_slow_eager_handler_moves_to_the_async_loop(site: Any, submits: list[int]) -> None:
    server = site(SITE, {"api/__init__.py": "", "api/aio.py": AIO})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        expected = str(sum(range(3_000_000)))
        for _ in range(2):  # two calls well over inline_limit (2 ms) on the server loop
            assert client.get("/slow").text == expected
        assert submits == []
        assert client.get("/slow").text == expected
        assert submits == [1]
