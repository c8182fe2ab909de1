"""The server-loop <-> async-loop hand-off alone, without HTTP: a gateway server Loop keeps
`--inflight` async handler calls going, and we read process CPU per call. Modes: `thread`
(AsyncRunner in its thread, as AsyncCall uses it; `--direct`: one call_soon_threadsafe per
result, as before AsyncRunner.deliver) and `stepped` (a prototype: a stdlib asyncio loop
stepped on the server loop's own thread, no second thread at all).
Usage: .venv/bin/python bench/async_handoff.py [--mode thread|stepped] [--inflight N] ..."""

from __future__ import annotations

import argparse
import asyncio
import selectors
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.aio import AsyncRunner
from gateway.aio.runner import _guarded
from gateway.server.loop import Loop

Submit = Callable[[Callable[[], Any], Callable[[], None]], None]


async def sleep0() -> dict[str, str]:
    await asyncio.sleep(0)
    return {"hello": "w"}


async def plain() -> dict[str, str]:
    return {"hello": "w"}


class Stepped:
    """Prototype: an asyncio loop with no thread of its own. The server loop steps it after
    each batch of its events when it has work (ready callbacks, I/O on its selector, whose
    epoll fd sits in the server's selector, or a due timer). Private asyncio attributes
    (_selector, _ready, _scheduled): a sketch to measure, not the shipped design."""

    def __init__(self, server: Loop, run_once: bool) -> None:
        self.aloop = asyncio.new_event_loop()
        self.server = server
        self.run_once = run_once
        self._io = False
        selector = self.aloop._selector  # type: ignore[attr-defined]
        server.selector.register(selector.fileno(), selectors.EVENT_READ, self._on_io)
        server.after_batch.append(self.after_batch)

    def _on_io(self, mask: int) -> None:
        self._io = True

    def _step(self) -> None:
        aloop = self.aloop
        if self.run_once:  # one iteration, as run_forever's body does
            asyncio.events._set_running_loop(aloop)
            try:
                aloop._run_once()  # type: ignore[attr-defined]
            finally:
                asyncio.events._set_running_loop(None)
        else:  # documented: stop() then run_forever() runs one iteration
            aloop.stop()
            aloop.run_forever()

    def after_batch(self) -> None:
        aloop: Any = self.aloop
        for _ in range(4):
            if not (aloop._ready or self._io):
                break
            self._io = False
            self._step()
        if aloop._ready:
            self.server.call_soon(_nothing)  # keep the server's select at timeout 0

    def submit(self, handler: Callable[[], Any], on_done: Callable[[], None]) -> None:
        call_soon = self.server.call_soon

        def finished(result: Any, exc: BaseException | None) -> None:
            call_soon(on_done)

        self.aloop.create_task(_guarded(handler, None, finished))

    def close(self) -> None:
        self.aloop.close()


def _nothing() -> None:
    pass


def threaded(runner: AsyncRunner, loop: Loop, direct: bool) -> Submit:
    loop.after_batch.append(runner.wake)
    call_soon = loop.call_soon_threadsafe

    def submit(handler: Callable[[], Any], on_done: Callable[[], None]) -> None:
        def finished(result: Any, exc: BaseException | None) -> None:  # async loop
            if direct:
                call_soon(on_done)
            else:
                runner.deliver(call_soon, on_done)

        runner.submit(handler, None, finished, wake=False)

    return submit


def drive(args: argparse.Namespace, runner: AsyncRunner | None, calls: int) -> float:
    """Run `calls` calls with `args.inflight` at a time; return CPU seconds per call."""
    loop = Loop()
    stepped = None
    if runner is not None:
        submit = threaded(runner, loop, args.direct)
    else:
        stepped = Stepped(loop, args.run_once)
        submit = stepped.submit
    handler = sleep0 if args.kind == "sleep0" else plain
    count = {"submitted": 0, "finished": 0}

    def submit_one() -> None:
        count["submitted"] += 1
        submit(handler, on_done)

    def on_done() -> None:  # server loop
        count["finished"] += 1
        if count["submitted"] < calls:
            submit_one()

    for _ in range(args.inflight):
        loop.call_soon(submit_one)
    cpu = time.process_time()
    loop.run(lambda: count["finished"] >= calls)
    cpu = time.process_time() - cpu
    loop.close()
    if stepped is not None:
        stepped.close()
    return cpu / calls


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=("thread", "stepped"), default="thread")
    p.add_argument("--calls", type=int, default=50_000)
    p.add_argument("--inflight", type=int, default=64)
    p.add_argument("--kind", choices=("sleep0", "plain"), default="sleep0")
    p.add_argument("--no-uvloop", action="store_true", help="thread mode: stdlib asyncio")
    p.add_argument("--direct", action="store_true", help="thread mode: no deliver batching")
    p.add_argument("--run-once", action="store_true", help="stepped mode: call _run_once")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    runner = None
    if args.mode == "thread":
        runner = AsyncRunner(use_uvloop=False if args.no_uvloop else None)
        runner.start()
    try:
        drive(args, runner, args.calls // 10)  # warm-up
        for _ in range(args.rounds):
            us = drive(args, runner, args.calls) * 1e6
            uv = runner.uses_uvloop if runner else False
            flags = f"direct={args.direct} uvloop={uv} run_once={args.run_once}"
            print(f"{args.mode} {args.kind} {flags} inflight={args.inflight}: {us:.2f} us/call cpu")
    finally:
        if runner is not None:
            runner.stop(1.0)


if __name__ == "__main__":
    main()
