"""AsyncRunner: results and exceptions reach the done callback once, on the async thread;
timeouts and cancellation really cancel the coroutine; stop() unwinds what still runs."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from gateway.aio import AsyncRunner
from gateway.errors import HTTPError
from tests.aio.support import wait_for


class Outcomes:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, BaseException | None, str]] = []

    def __call__(self, result: Any, exc: BaseException | None) -> None:
        self.calls.append((result, exc, threading.current_thread().name))

    def one(self) -> tuple[Any, BaseException | None, str]:
        wait_for(lambda: bool(self.calls))
        assert len(self.calls) == 1
        return self.calls[0]


def test_result_reaches_done_on_the_async_thread(runner: AsyncRunner) -> None:
    async def handler() -> dict[str, int]:
        await asyncio.sleep(0)
        return {"ok": 1}

    done = Outcomes()
    runner.submit(handler, 5.0, done)
    result, exc, thread = done.one()
    assert result == {"ok": 1} and exc is None
    assert thread == "gateway-async"


def test_uvloop_when_asked(runner: AsyncRunner) -> None:
    assert runner.loop is not None
    assert runner.uses_uvloop == ("uvloop" in type(runner.loop).__module__)


def test_exceptions_are_handed_over(runner: AsyncRunner) -> None:
    async def handler() -> None:
        raise HTTPError(404, "no such user")

    done = Outcomes()
    runner.submit(handler, None, done)
    _, exc, _ = done.one()
    assert isinstance(exc, HTTPError) and exc.status == 404


def test_timeout_cancels_the_coroutine(runner: AsyncRunner) -> None:
    unwound = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            unwound.set()

    done = Outcomes()
    runner.submit(slow, 0.05, done)
    _, exc, _ = done.one()
    assert isinstance(exc, TimeoutError)
    assert unwound.is_set()


def test_cancel_from_another_thread(runner: AsyncRunner) -> None:
    started, unwound = threading.Event(), threading.Event()

    async def waits() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            unwound.set()

    done = Outcomes()
    job = runner.submit(waits, None, done)
    assert started.wait(5)
    job.cancel()
    _, exc, _ = done.one()
    assert isinstance(exc, asyncio.CancelledError)
    assert unwound.wait(5)


def test_cancel_before_start_still_calls_done_once(runner: AsyncRunner) -> None:
    ran = []

    async def handler() -> None:
        ran.append(1)

    done = Outcomes()
    job = runner.submit(handler, None, done)
    job.cancel()
    wait_for(lambda: bool(done.calls))
    assert len(done.calls) == 1  # either it ran, or it was cancelled: never both, never neither


def test_a_sync_function_is_a_clear_error(runner: AsyncRunner) -> None:
    done = Outcomes()
    runner.submit(lambda: {"not": "awaitable"}, None, done)
    _, exc, _ = done.one()
    assert isinstance(exc, TypeError) and "async def" in str(exc)


def test_an_awaitable_that_is_not_a_coroutine_is_awaited(runner: AsyncRunner) -> None:
    class Answer:  # an awaitable object (as a library's lazy query might be)
        def __await__(self) -> Any:
            return asyncio.sleep(0, "awaited").__await__()

    for timeout in (None, 5.0):
        done = Outcomes()
        runner.submit(Answer, timeout, done)
        assert done.one()[:2] == ("awaited", None)


def test_a_raising_done_callback_does_not_break_the_loop(runner: AsyncRunner) -> None:
    async def handler() -> int:
        return 1

    def bad_done(result: Any, exc: BaseException | None) -> None:
        raise RuntimeError("bug in the caller")

    runner.submit(handler, None, bad_done)
    assert runner.run(handler, 5.0) == 1


def test_base_exceptions_in_handlers_are_reported(runner: AsyncRunner) -> None:
    async def handler() -> None:
        raise SystemExit(3)

    done = Outcomes()
    runner.submit(handler, None, done)
    _, exc, _ = done.one()
    assert isinstance(exc, SystemExit)
    assert runner.run(lambda: asyncio.sleep(0, "alive"), 5.0) == "alive"


def test_run_waits_and_refuses_its_own_thread(runner: AsyncRunner) -> None:
    assert runner.run(lambda: asyncio.sleep(0, 42)) == 42
    with pytest.raises(TimeoutError):
        runner.run(lambda: asyncio.sleep(10), 0.05)

    async def nested() -> None:
        runner.run(lambda: asyncio.sleep(0))

    with pytest.raises(RuntimeError, match="own thread"):
        runner.run(nested, 5.0)


def test_stop_unwinds_running_handlers() -> None:
    runner = AsyncRunner(use_uvloop=False)
    runner.start()
    started, unwound = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            unwound.set()

    done = Outcomes()
    runner.submit(forever, None, done)
    assert started.wait(5)
    runner.stop(grace=2.0)
    assert unwound.is_set() and not runner.running
    assert isinstance(done.one()[1], asyncio.CancelledError)
    with pytest.raises(RuntimeError, match="not started"):
        runner.submit(forever, None, done)
    runner.stop()  # twice is fine
