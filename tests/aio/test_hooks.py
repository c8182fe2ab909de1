"""Startup/shutdown hooks, sync or async: async ones run on the runner's loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gateway.aio import AsyncRunner, run_hook, run_shutdown, run_startup


def test_sync_hooks_run_here_async_ones_on_the_loop(runner: AsyncRunner) -> None:
    seen: list[tuple[str, str]] = []

    def sync_hook() -> None:
        seen.append(("sync", threading.current_thread().name))

    async def async_hook() -> str:
        await asyncio.sleep(0)
        seen.append(("async", threading.current_thread().name))
        return "opened"

    run_startup([sync_hook, async_hook], runner, 5.0)
    assert seen == [("sync", threading.current_thread().name), ("async", "gateway-async")]
    assert run_hook(async_hook, runner) == "opened"
    assert run_hook(lambda: asyncio.sleep(0, "awaitable from a lambda"), runner) == (
        "awaitable from a lambda"
    )


def test_a_failing_startup_hook_stops_the_start(runner: AsyncRunner) -> None:
    after = []

    async def broken() -> None:
        raise ConnectionRefusedError("database down")

    with pytest.raises(ConnectionRefusedError):
        run_startup([broken, lambda: after.append(1)], runner, 5.0)
    assert after == []


def test_shutdown_runs_every_hook_in_reverse(runner: AsyncRunner) -> None:
    order: list[str] = []

    async def close_pool() -> None:
        order.append("pool")

    def close_cache() -> None:
        order.append("cache")
        raise OSError("disk gone")

    async def slow() -> None:
        order.append("slow")
        await asyncio.sleep(30)

    failures = run_shutdown([close_pool, close_cache, slow], runner, 0.1)
    assert order == ["slow", "cache", "pool"]
    assert [type(f) for f in failures] == [TimeoutError, OSError]


def test_async_hook_without_runner_is_named() -> None:
    async def hook() -> None:
        pass

    with pytest.raises(RuntimeError, match="needs the async runner"):
        run_hook(hook, None)
