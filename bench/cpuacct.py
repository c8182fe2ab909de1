"""CPU accounting around one measured run: the server's process group, wrk (a child the
harness reaps), other processes, and irq+softirq (loopback TCP), as % of one CPU over the
wall time. `other` above a few % means the run shared the machine with someone's work."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Snapshot:
    wall: float
    tasks: float  # CPU seconds over all CPUs in processes: user nice system
    irq: float  # irq + softirq: mostly loopback TCP work the load itself causes
    steal: float
    server: float
    wrk: float


def _machine() -> tuple[float, float, float]:
    with open("/proc/stat") as f:
        user, nice, system, _idle, _wait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system) / TICK, (irq + softirq) / TICK, steal / TICK


def _group(pgid: int) -> float:
    """utime + stime of every live process in group `pgid`, threads included."""
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # the name may hold spaces
        except OSError:  # exited meanwhile
            continue
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICK


def snapshot(server_pgid: int | None) -> Snapshot:
    tasks, irq, steal = _machine()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Snapshot(
        wall=time.monotonic(),
        tasks=tasks,
        irq=irq,
        steal=steal,
        server=_group(server_pgid) if server_pgid is not None else 0.0,
        wrk=children.ru_utime + children.ru_stime,
    )


def usage(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """{server, wrk, other, irq, steal}: % of one CPU between two snapshots."""
    wall = (after.wall - before.wall) or 1.0
    server, wrk = after.server - before.server, after.wrk - before.wrk
    other = max(0.0, after.tasks - before.tasks - server - wrk)
    return {
        name: round(100.0 * secs / wall, 1)
        for name, secs in (
            ("server", server),
            ("wrk", wrk),
            ("other", other),
            ("irq", after.irq - before.irq),
            ("steal", after.steal - before.steal),
        )
    }
