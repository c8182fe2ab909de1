"""wrk as the load generator: one bounded run pinned to its own core, and its figures.
A Lua `done()` hook prints exact counts as one JSON line; the human text wrk prints with
--latency is the fallback when that line is missing."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cpuacct

MARK = "BENCH_JSON "
DONE_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_JSON {\"duration_us\":%.0f,\"requests\":%.0f,\"bytes\":%.0f,"
    .. "\"connect\":%.0f,\"read\":%.0f,\"write\":%.0f,\"status\":%.0f,\"timeout\":%.0f,"
    .. "\"mean_us\":%.1f,\"max_us\":%.0f,\"p50_us\":%.0f,\"p75_us\":%.0f,\"p90_us\":%.0f,"
    .. "\"p99_us\":%.0f}\n",
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99)))
end
"""
_TIME_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass(frozen=True)
class WrkSettings:
    threads: int = 1
    connections: int = 64
    cpu: str = "1"  # taskset -c
    lua: Path | None = None
    headers: tuple[str, ...] = ()  # -H each


@dataclass(frozen=True)
class Figures:
    rps: float
    mbps: float  # 10**6 bytes/s, head + body, as wrk counts them
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors + non-2xx/3xx
    bytes_per_req: float
    cpu: dict[str, float] = field(default_factory=dict)  # cpuacct.usage(): % of one CPU

    @property
    def cpu_us(self) -> float:
        """Server CPU microseconds per request: the figure a shared machine disturbs least."""
        server = self.cpu.get("server", 0.0)
        return server / 100.0 * 1e6 / self.rps if self.rps else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cpu_us": round(self.cpu_us, 2)}


PIPELINE_LUA = r"""
init = function(args)
  local r = {}
  for i = 1, %d do r[i] = wrk.format() end
  pipelined = table.concat(r)
end
request = function() return pipelined end
"""


def write_lua(path: Path, pipeline: int = 0) -> Path:
    """The done() hook, and with `pipeline` > 1 a request() that sends that many requests
    in one write (wrk counts each response)."""
    path.write_text(DONE_LUA + (PIPELINE_LUA % pipeline if pipeline > 1 else ""))
    return path


def run_wrk(
    url: str, seconds: int, settings: WrkSettings, server_pgid: int | None = None
) -> Figures:
    """Run wrk once; raise RuntimeError with its output when it fails or says nothing.
    The CPU the server's process group, wrk and the rest of the machine used is kept too."""
    argv = [
        "taskset",
        "-c",
        settings.cpu,
        "wrk",
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{seconds}s",
        "--latency",
    ]
    if settings.lua is not None:
        argv += ["-s", str(settings.lua)]
    for header in settings.headers:
        argv += ["-H", header]
    argv.append(url)
    before = cpuacct.snapshot(server_pgid)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired as exc:  # run() has killed wrk already
        raise RuntimeError(f"wrk did not finish within {seconds + 30}s") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}:\n{output.strip()}")
    figures = _from_lua(done.stdout) or _from_text(done.stdout)
    if figures is None:
        raise RuntimeError(f"no figures in wrk's output:\n{output.strip()}")
    cpu = cpuacct.usage(before, cpuacct.snapshot(server_pgid))
    return replace(figures, cpu=cpu)


def _from_lua(stdout: str) -> Figures | None:
    line = next((ln for ln in stdout.splitlines() if ln.startswith(MARK)), None)
    if line is None:
        return None
    d = json.loads(line[len(MARK) :])
    seconds = d["duration_us"] / 1e6
    requests = int(d["requests"])
    errors = sum(int(d[k]) for k in ("connect", "read", "write", "status", "timeout"))
    return Figures(
        rps=requests / seconds,
        mbps=d["bytes"] / seconds / 1e6,
        p50_ms=d["p50_us"] / 1e3,
        p99_ms=d["p99_us"] / 1e3,
        requests=requests,
        errors=errors,
        bytes_per_req=d["bytes"] / requests if requests else 0.0,
    )


def _from_text(stdout: str) -> Figures | None:
    def grab(pattern: str) -> re.Match[str] | None:
        return re.search(pattern, stdout, re.MULTILINE)

    rps, transfer = grab(r"^Requests/sec:\s+([\d.]+)"), grab(r"^Transfer/sec:\s+([\d.]+)(\w+)")
    p50, p99 = grab(r"^\s+50%\s+([\d.]+)(\w+)"), grab(r"^\s+99%\s+([\d.]+)(\w+)")
    total = grab(r"^\s+(\d+) requests in")
    if not (rps and transfer and p50 and p99 and total):
        return None
    sock = grab(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
    status = grab(r"Non-2xx or 3xx responses: (\d+)")
    errors = sum(int(g) for g in sock.groups()) if sock else 0
    bytes_per_s = float(transfer[1]) * _SIZE_UNITS[transfer[2]]
    return Figures(
        rps=float(rps[1]),
        mbps=bytes_per_s / 1e6,
        p50_ms=float(p50[1]) * _TIME_UNITS[p50[2]] / 1e3,
        p99_ms=float(p99[1]) * _TIME_UNITS[p99[2]] / 1e3,
        requests=int(total[1]),
        errors=errors + (int(status[1]) if status else 0),
        bytes_per_req=bytes_per_s / float(rps[1]) if float(rps[1]) else 0.0,
    )
