"""Calls submitted with wake=False wait for one wake() (the server loop's, once per batch of
events) and then all run; wake() with nothing waiting schedules nothing."""

from __future__ import annotations

import threading
from typing import Any

from gateway.aio import AsyncRunner
from tests.aio.support import wait_for


def test_calls_wait_for_one_wake_then_all_run(runner: AsyncRunner) -> None:
    done: list[Any] = []
    lock = threading.Lock()

    def record(result: Any, exc: BaseException | None) -> None:
        with lock:
            done.append(result)

    async def answer(n: int) -> int:
        return n

    for n in range(3):
        runner.submit(lambda n=n: answer(n), None, record, wake=False)
    assert runner.run(lambda: answer(-1)) == -1  # the async loop turned: nothing started
    assert done == []
    runner.wake()
    wait_for(lambda: len(done) == 3)
    assert sorted(done) == [0, 1, 2]
    runner.wake()  # nothing waits: no batch is scheduled
    assert not runner._wake_sent and runner._incoming == []


def test_a_woken_submit_starts_at_once(runner: AsyncRunner) -> None:
    finished = threading.Event()

    async def answer() -> str:
        return "now"

    runner.submit(answer, None, lambda result, exc: finished.set())
    assert finished.wait(5)
