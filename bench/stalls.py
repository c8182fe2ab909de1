"""How often this machine stops a running thread: one process per CPU spins for N seconds,
reading the clock, and counts the gaps in which it did not run (a vCPU the host took away, a
kernel thread, an interrupt); and which other tasks ran meanwhile (/proc/*/task/*/schedstat).

A closed-loop p99 is about two p50s as soon as a few stalls a second last longer than p50
(every request in flight waits through them), whatever server answers: this is the floor
every latency table of bench/run.py and bench/latency.py stands on. 127.0.0.1 only: no load.

    .venv/bin/python bench/stalls.py [--seconds 5] [--cpus 0,1]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass

THRESHOLDS_MS = (0.2, 0.5, 1.0, 2.0)  # a gap over each, counted per second


@dataclass(frozen=True)
class CpuStalls:
    cpu: int
    seconds: float
    over: dict[str, float]  # "1.0 ms" -> gaps a second longer than that
    longest_ms: float
    stolen_pct: float  # share of the wall time lost in gaps over the smallest threshold

    def line(self) -> str:
        rates = ", ".join(f">{k}: {v:.1f}/s" for k, v in self.over.items())
        return (
            f"CPU {self.cpu}: stalls {rates}; longest {self.longest_ms:.1f} ms; "
            f"{self.stolen_pct:.2f}% of the time"
        )


def _spin(cpu: int, seconds: float, out: multiprocessing.SimpleQueue[CpuStalls]) -> None:
    os.sched_setaffinity(0, {cpu})
    clock = time.perf_counter
    smallest = THRESHOLDS_MS[0] / 1e3
    gaps: list[float] = []
    last = start = clock()
    end = start + seconds
    while last < end:
        now = clock()
        if now - last > smallest:
            gaps.append(now - last)
        last = now
    wall = last - start
    out.put(
        CpuStalls(
            cpu=cpu,
            seconds=wall,
            over={f"{t} ms": sum(g > t / 1e3 for g in gaps) / wall for t in THRESHOLDS_MS},
            longest_ms=max(gaps, default=0.0) * 1e3,
            stolen_pct=100 * sum(gaps) / wall,
        )
    )


def _task_times() -> dict[str, tuple[int, int]]:
    """name[pid/tid] -> (ns on a CPU, slices), for every thread on the machine."""
    times: dict[str, tuple[int, int]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    ran, _waited, slices = map(int, f.read().split())
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    name = f.read().strip()
            except (OSError, ValueError):
                continue
            times[f"{name}[{tid}]"] = (ran, slices)
    return times


def measure(seconds: float, cpus: list[int]) -> tuple[list[CpuStalls], list[str]]:
    """Spin on every CPU in `cpus` at once; the stalls each saw, and the other tasks that
    ran meanwhile (most CPU first: "kdamond[77]: 15.1 ms in 11 slices")."""
    out: multiprocessing.SimpleQueue[CpuStalls] = multiprocessing.SimpleQueue()
    before = _task_times()
    procs = [multiprocessing.Process(target=_spin, args=(c, seconds, out)) for c in cpus]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    after = _task_times()
    mine = {str(p.pid) for p in procs}
    others = []
    for task, (ran, slices) in after.items():
        if task.rsplit("[", 1)[1].rstrip("]") in mine:
            continue
        ran0, slices0 = before.get(task, (0, 0))
        if ran - ran0 > 100_000:  # over 0.1 ms
            others.append((ran - ran0, slices - slices0, task))
    others.sort(reverse=True)
    lines = [f"{task}: {ran / 1e6:.1f} ms in {n} slices" for ran, n, task in others[:8]]
    stalls = sorted((out.get() for _ in procs), key=lambda s: s.cpu)
    return stalls, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--cpus", default="0,1")
    parser.add_argument("--json", action="store_true", help="one JSON line instead of text")
    args = parser.parse_args()
    stalls, others = measure(args.seconds, [int(c) for c in args.cpus.split(",")])
    if args.json:
        print(json.dumps({"cpus": [asdict(s) for s in stalls], "other_tasks": others}))
        return
    print(f"machine stalls over {args.seconds:g} s, one spinning process per CPU:")
    for s in stalls:
        print("  " + s.line())
    print("other tasks that ran meanwhile (CPU time, slices):")
    for line in others or ["(none over 0.1 ms)"]:
        print("  " + line)


if __name__ == "__main__":
    main()
