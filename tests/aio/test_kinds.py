"""handler_kind / signature_problem: sync, async and async-generator handlers are told apart
(through partials and callable objects), and a handler that cannot take the request is
named with what would be right."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.aio.kinds import handler_kind, is_async_iterable, signature_problem


def sync(request: Any) -> dict[str, int]:
    return {}


async def coro(request: Any) -> dict[str, int]:
    return {}


async def agen(request: Any) -> AsyncIterator[bytes]:
    yield b""


class AsyncCallable:
    async def __call__(self, request: Any) -> None:
        pass


async def two(request: Any, extra: int) -> None:
    pass


def none() -> None:
    pass


@pytest.mark.parametrize(
    ("func", "kind"),
    [
        (sync, "sync"),
        (coro, "async"),
        (agen, "asyncgen"),
        (functools.partial(coro), "async"),
        (AsyncCallable(), "async"),
        (print, "sync"),
    ],
)
def test_handler_kind(func: Any, kind: str) -> None:
    assert handler_kind(func) == kind


def test_signature_problems() -> None:
    assert signature_problem(sync, "api.users:sync") is None
    assert signature_problem(AsyncCallable(), "x:y") is None
    assert signature_problem(functools.partial(two, extra=1), "x:two") is None
    assert signature_problem(none, "api.health:none") == (
        "handler 'api.health:none' cannot take the request: its parameters are (); "
        "define it as `def none(request)`"
    )
    message = signature_problem(two, "api.chat:two")
    assert message is not None and "(request, extra)" in message
    assert "`async def two(request)`" in message


def test_is_async_iterable() -> None:
    assert is_async_iterable(agen(None))
    assert not is_async_iterable([b"x"])
    assert not is_async_iterable(b"x")
