"""Open-loop latency tails: each server gets requests at a fixed rate (each has a scheduled
send time and its latency counts from then, so a stall is not hidden by a client that waits,
as wrk's closed loop hides it), over N keep-alive connections, and the p50/p90/p99/max of
each target at each rate are printed side by side, same run. Scenarios and server configs
are bench/targets.py's (json, static-1k); servers pinned to CPU 0 one at a time, this client
to CPU 1. The client spins between sends (epoll waits in whole milliseconds) and reports how
late its own sends were: a late send counts in the latency, so a "send lag p99" near the
latencies means the client, not the server, set them. 127.0.0.1 only, bounded.

    .venv/bin/python bench/latency.py [--rates 2000,5000] [--seconds 4] [--conns 32]
        [--rounds 1] [--only json,static-1k] [--targets WORDS]
"""

from __future__ import annotations

import argparse
import os
import resource
import selectors
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cpuacct
from procs import HOST, free_port, running, tail
from run import fetch
from targets import MINIMAL, SCENARIOS, Scenario, Target, Workspace

SERVER_CPU, CLIENT_CPU = "0", 1
# The targets measured unless --targets says otherwise: gateway's fast paths against the
# peers and the design limit (bench/run.py measures the rest).
DEFAULT_TARGETS = {
    "json": (
        "gateway respond",
        "gateway inline",
        "gateway pooled",
        "uvicorn raw ASGI",
        "uvicorn starlette",
        MINIMAL,
    ),
    "static-1k": ("gateway static", "nginx", MINIMAL),
}
SPIN = 0.0015  # a send due sooner than this: poll (select(0)), do not sleep in epoll


class Conn:
    __slots__ = ("buf", "due", "sock")

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.due = 0.0  # the scheduled send time of the request in flight

    def complete(self) -> bool:
        """Whether buf holds a whole Content-Length framed response; consumes it."""
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return False
        head = self.buf[:head_end].lower()
        if b"content-length:" not in head:
            raise RuntimeError(f"a response without content-length: {head[:200]!r}")
        length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
        if len(self.buf) < head_end + 4 + length:
            return False
        self.buf = self.buf[head_end + 4 + length :]
        return True


@dataclass
class Run:
    latencies: list[float]  # seconds, from each request's scheduled send time
    lags: list[float]  # how late each send left (the client's own delay)
    expected: int
    wall: float
    client_cpu: float  # seconds of this process's CPU


def fixed_rate(port: int, request: bytes, rate: float, seconds: float, conns: int) -> Run:
    """Send rate*seconds requests on schedule over `conns` connections (a request due while
    every connection is busy waits for one, its wait counted); each answer's latency."""
    pool = [Conn(port) for _ in range(conns)]
    idle = list(pool)
    sel = selectors.DefaultSelector()
    for conn in pool:
        sel.register(conn.sock, selectors.EVENT_READ, conn)
    total = int(rate * seconds)
    interval = 1.0 / rate
    clock = time.perf_counter
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = clock() + 0.05
    sent, latencies, lags = 0, [], []
    deadline = start + seconds + 10
    try:
        while len(latencies) < total:
            now = clock()
            if now > deadline:
                break
            while sent < total and idle and start + sent * interval <= now:
                conn = idle.pop()
                conn.due = start + sent * interval
                lags.append(now - conn.due)
                conn.sock.send(request)
                sent += 1
            wait = start + sent * interval - clock() if sent < total and idle else 0.01
            for key, _ in sel.select(0 if wait < SPIN else wait - 0.001):
                conn = key.data
                data = conn.sock.recv(65536)
                if not data:
                    raise RuntimeError("the server closed a connection")
                conn.buf += data
                if conn.complete():
                    latencies.append(clock() - conn.due)
                    idle.append(conn)
    finally:
        wall = clock() - start
        for conn in pool:
            conn.sock.close()
        sel.close()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    used = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    return Run(latencies, lags, total, wall, used)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def _us(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f}us"


def measure(target: Target, port: int, pgid: int, rates: list[float], args: argparse.Namespace):
    request = f"GET {target.path} HTTP/1.1\r\nhost: bench\r\n\r\n".encode()
    fixed_rate(port, request, min(rates), 1.0, args.conns)  # warm-up: caches, placement
    rows = []
    for rate in rates:
        tries = []
        for _ in range(args.rounds):
            before = cpuacct.snapshot(pgid)
            run = fixed_rate(port, request, rate, args.seconds, args.conns)
            tries.append((run, cpuacct.usage(before, cpuacct.snapshot(pgid))))
        tries.sort(key=lambda t: pct(t[0].latencies, 99))
        run, used = tries[(len(tries) - 1) // 2]  # the median round by p99
        answers = len(run.latencies)
        server_us = used["server"] / 100 * run.wall / max(1, answers) * 1e6
        client = 100 * run.client_cpu / run.wall
        other = max(0.0, used["other"] - client)
        rows.append((rate, target.label, run, server_us, used["server"], client, other))
        p99s = ", ".join(_us(pct(t[0].latencies, 99)) for t in tries)
        print(
            f"  {rate:.0f}/s {target.label}: {answers}/{run.expected} answers, p50 "
            f"{_us(pct(run.latencies, 50))}, p99 {_us(pct(run.latencies, 99))} (rounds: {p99s})",
            file=sys.stderr,
            flush=True,
        )
    return rows


def run_scenario(scenario: Scenario, ws: Workspace, rates: list[float], args) -> list:
    rows: list = []
    for name in dict.fromkeys(t.server for t in scenario.targets):
        port = free_port()
        argv, cwd = ws.command(name, port)
        log = ws.logs / f"latency-{scenario.name}-{name}.log"
        with running(name, argv, port, cwd, log) as server:
            if error := server.wait_ready(15):
                print(f"{name}: {error}\n{tail(log)}", file=sys.stderr)
                continue
            for target in (t for t in scenario.targets if t.server == name):
                status, _, body = fetch(port, target.path)
                if status != 200 or body != scenario.body:
                    print(f"{target.label}: GET {target.path} -> {status} {body[:80]!r}")
                    continue
                rows += measure(target, port, server.popen.pid, rates, args)
    return rows


def _shared(run: Run, other: float, p50: float) -> str:
    """A " ~" mark when the figures are the machine's more than the server's: other processes
    used over 10% of a CPU, or the client's own sends were late by a p50 at p99."""
    return "  ~" if other > 10 or pct(run.lags, 99) > p50 else ""


def table(scenario: Scenario, rows: list, args: argparse.Namespace) -> str:
    lines = [
        f"== {scenario.name} (open loop, {args.conns} connections, {args.seconds:g}s per rate;"
        f" server on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU})",
        "   latency from each request's scheduled send time; lag: how late the client's own"
        " sends left; cpu s/c/o: % of one CPU used by server, client, others; ~: a shared"
        " machine (others > 10% or a late client), rerun",
        f"{'rate':>6} {'target':19} {'answers':>13} {'p50':>8} {'p90':>8} {'p99':>8} "
        f"{'max':>8} {'p99/p50':>7} {'us/req':>6} {'lag p99':>8} {'cpu s/c/o':>11}",
    ]
    for rate, label, run, server_us, server, client, other in sorted(rows, key=lambda r: r[0]):
        p50, p99 = pct(run.latencies, 50), pct(run.latencies, 99)
        lines.append(
            f"{rate:6.0f} {label:19} {len(run.latencies):>6}/{run.expected:<6} {_us(p50):>8} "
            f"{_us(pct(run.latencies, 90)):>8} {_us(p99):>8} {_us(max(run.latencies)):>8} "
            f"{p99 / p50 if p50 else 0:6.2f}x {server_us:6.1f} {_us(pct(run.lags, 99)):>8} "
            f"{server:3.0f}/{client:3.0f}/{other:3.0f}{_shared(run, other, p50)}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2000,5000")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs per rate and target; the median by p99"
    )
    parser.add_argument("--only", default="json,static-1k")
    parser.add_argument("--targets", default="", help="comma-separated words of target labels")
    parser.add_argument("--python", default=None, help="interpreter for gateway and uvicorn")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if unknown := [n for n in names if n not in DEFAULT_TARGETS]:
        parser.error(f"unknown scenario(s) {unknown}; known: {', '.join(DEFAULT_TARGETS)}")
    words = [w.strip() for w in args.targets.split(",") if w.strip()]
    venv = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
    python = os.path.abspath(args.python or (venv if venv.exists() else sys.executable))
    os.sched_setaffinity(0, {CLIENT_CPU})  # servers are started pinned to CPU 0 (taskset)
    out = []
    with tempfile.TemporaryDirectory(prefix="gateway-latency-") as tmp:
        ws = Workspace(Path(tmp), python, 1, SERVER_CPU)
        ws.prepare()
        for name in names:
            scenario = SCENARIOS[name]
            wanted = words or DEFAULT_TARGETS[name]
            targets = tuple(t for t in scenario.targets if any(w in t.label for w in wanted))
            scenario = Scenario(**{**scenario.__dict__, "targets": targets})
            out.append(table(scenario, run_scenario(scenario, ws, rates, args), args))
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
