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


def test_results_of_one_turn_go_back_in_one_call_soon(runner: AsyncRunner) -> None:
    """deliver(): what one async-loop turn finishes reaches each other loop in one
    call_soon (one wake-up), in order, and a raising callback loses none of the others."""
    handed: dict[str, list[Any]] = {"a": [], "b": []}
    ran: list[str] = []

    def boom() -> None:
        raise ValueError("a bug in one result")

    def deliver_all() -> None:  # on the async loop: one turn
        for name in ("a1", "a2"):
            runner.deliver(handed["a"].append, lambda name=name: ran.append(name))
        runner.deliver(handed["a"].append, boom)
        runner.deliver(handed["a"].append, lambda: ran.append("a3"))
        runner.deliver(handed["b"].append, lambda: ran.append("b1"))

    runner.call_soon(deliver_all)
    wait_for(lambda: handed["a"] and handed["b"])
    assert len(handed["a"]) == 1 and len(handed["b"]) == 1
    handed["a"][0]()
    handed["b"][0]()
    assert ran == ["a1", "a2", "a3", "b1"]
    runner.call_soon(lambda: runner.deliver(handed["a"].append, lambda: ran.append("next")))
    wait_for(lambda: len(handed["a"]) == 2)  # a later turn: a new batch
    handed["a"][1]()
    assert ran[-1] == "next"
