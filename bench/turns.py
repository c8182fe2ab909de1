"""Where a latency tail comes from, in process: serve the profile_path site on the main
thread (pinned to CPU 0) while wrk (pinned to CPU 1, bounded) loads one path, and time
every loop turn: wall time and the loop thread's CPU from one select() return to the next
select() call (events, timers, callbacks, after_batch, the tick). Prints the turns'
percentiles, the long ones (what they held: a tick, a GC pass), GC passes by generation,
and wrk's own p50/p99 beside them; for pooled calls, each one's submit-to-answer time
and how many turns later its answer ran. On a shared machine wrk's p99 is the machine's; a long
turn here is the server's own. Usage:
    python bench/turns.py [inline|handler|pooled|respond|static] [--seconds 4] [-c 64]"""

from __future__ import annotations

import argparse
import gc
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from profile_path import API, PATHS, SITE

from gateway.app import build_app
from gateway.config.load import load_config
from gateway.server.serve import Server


class Turns:
    """Wraps the selector's select(): the work between two selects is one turn."""

    def __init__(self, server: Server) -> None:
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.marks: list[str] = []  # what a turn held besides socket events
        self.events: list[int] = []  # selector events per turn
        self._events = 0
        self._mark = ""
        self._started = 0.0
        self._cpu = 0.0
        self.recording = False
        self.selects = 0  # select() calls so far: a turn's number
        # pooled calls: how many turns after the one that submitted it each answer ran, and
        # the wall time from submit to the answer on the loop (the hand-off's own latency)
        self.handoff_turns: list[int] = []
        self.handoff_walls: list[float] = []
        self._watch_pool(server)
        selector = server.loop.selector
        select = selector.select

        def timed_select(timeout: float | None = None) -> list:
            if self._started and self.recording:
                self.walls.append(time.perf_counter() - self._started)
                self.cpus.append(time.thread_time() - self._cpu)
                self.marks.append(self._mark)
                self.events.append(self._events)
            self._mark = ""
            self.selects += 1
            events = select(timeout)
            self._events = len(events)
            self._started = time.perf_counter()
            self._cpu = time.thread_time()
            return events

        selector.select = timed_select  # type: ignore[method-assign]
        tick = server.loop.tick

        def marked_tick() -> None:
            self._mark += "tick "
            tick()

        server.loop.tick = marked_tick
        self.gcs = [0, 0, 0]
        gc.callbacks.append(self._on_gc)

    def _watch_pool(self, server: Server) -> None:
        submit = server.pool.submit

        def timed_submit(work: Callable[[], Any], done: Callable[[Any], None]) -> int | None:
            turn, started = self.selects, time.perf_counter()

            def timed_done(result: Any) -> None:
                if self.recording:
                    self.handoff_turns.append(self.selects - turn)
                    self.handoff_walls.append(time.perf_counter() - started)
                done(result)

            return submit(work, timed_done)

        server.pool.submit = timed_submit  # type: ignore[method-assign]

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start" and self.recording:
            self.gcs[info["generation"]] += 1
            self._mark += f"gc{info['generation']} "


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(PATHS), nargs="?", default="inline")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("-c", type=int, default=64, help="wrk connections")
    parser.add_argument("--switch", type=float, help="sys.setswitchinterval, in ms")
    args = parser.parse_args()
    if args.switch:
        sys.setswitchinterval(args.switch / 1000)
    os.sched_setaffinity(0, {0})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "public").mkdir()
        (root / "public" / "1k.bin").write_bytes(b"x" * 1024)
        (root / "api.py").write_text(API)
        (root / "gateway.toml").write_text(SITE)
        server = Server(build_app(load_config(root / "gateway.toml")))
        port = int(server.listen(["127.0.0.1:0"])[0].rpartition(":")[2])
        turns = Turns(server)
        wrk_out: list[str] = []

        def load() -> None:
            url = f"http://127.0.0.1:{port}{PATHS[args.kind]}"
            base = ["taskset", "-c", "1", "wrk", "-t1", f"-c{args.c}", "--latency"]
            subprocess.run([*base, "-d1s", url], capture_output=True, timeout=60)  # warm-up
            turns.recording = True
            done = subprocess.run(
                [*base, f"-d{args.seconds:g}s", url],
                capture_output=True,
                text=True,
                timeout=args.seconds + 60,
            )
            turns.recording = False
            wrk_out.append(done.stdout)
            server.request_shutdown()

        thread = threading.Thread(target=load, daemon=True)
        gc.freeze()  # as serve_single does before serving
        thread.start()
        server.serve_forever()
        thread.join()
    report(args.kind, turns, wrk_out[0] if wrk_out else "")


def report(kind: str, turns: Turns, wrk: str) -> None:
    walls, cpus = turns.walls, turns.cpus
    us = 1e6
    print(f"{kind}: {len(walls)} turns")
    for name, values in (("wall", walls), ("cpu", cpus)):
        cells = ", ".join(
            f"p{q * 100:g} {pct(values, q) * us:.0f}" for q in (0.5, 0.9, 0.99, 0.999)
        )
        print(f"  turn {name} us: {cells}, max {max(values, default=0) * us:.0f}")
    events = turns.events
    per = ", ".join(f"p{q * 100:g} {pct(events, q):.0f}" for q in (0.5, 0.9, 0.99))
    print(f"  events per turn: {per}, max {max(events, default=0)}")
    long = [i for i, w in enumerate(walls) if w > 0.002]
    print(f"  turns over 2 ms: {len(long)} (their CPU over 2 ms: ", end="")
    print(f"{sum(1 for i in long if cpus[i] > 0.002)})")
    for i in sorted(long, key=lambda i: -walls[i])[:8]:
        print(
            f"    {walls[i] * 1e3:.1f} ms wall, {cpus[i] * 1e3:.1f} ms cpu, "
            f"{events[i]} events {turns.marks[i]}"
        )
    heavy = sorted(range(len(cpus)), key=lambda i: -cpus[i])[:4]
    shown = [f"{cpus[i] * 1e3:.2f} ms ({events[i]} events) {turns.marks[i]}" for i in heavy]
    print("  most CPU: " + ", ".join(shown))
    ticks = [i for i, m in enumerate(turns.marks) if "tick" in m]
    if ticks:
        wall = max(walls[i] for i in ticks) * us
        cpu = max(cpus[i] for i in ticks) * us
        print(f"  turns with a tick: {len(ticks)}, longest {wall:.0f} us wall, {cpu:.0f} us CPU")
    print(f"  gc passes by generation: {turns.gcs}")
    if handed := turns.handoff_turns:
        later = {n: sum(1 for t in handed if t == n) * 100 / len(handed) for n in (0, 1)}
        walls = turns.handoff_walls
        print(
            f"  pooled answers: {len(handed)}, back in the turn that submitted them "
            f"{later[0]:.1f}%, the next {later[1]:.1f}%, later {100 - later[0] - later[1]:.1f}%;"
            f" submit to answer us: p50 {pct(walls, 0.5) * us:.0f}, p99 {pct(walls, 0.99) * us:.0f}"
        )
    for line in wrk.splitlines():
        if re.match(r"\s+(50|99)%|Requests/sec", line):
            print("  wrk", line.strip())


if __name__ == "__main__":
    main()
