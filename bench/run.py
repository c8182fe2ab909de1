"""Load benchmark: gateway against nginx, uvicorn and Starlette in one run, each server
pinned to CPU 0 and wrk to CPU 1. Prints a table and writes bench/results/<time>.json.
Usage: .venv/bin/python bench/run.py [--quick] [--only json,static-1k] [--workers N]"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import os
import shutil
import signal
import ssl
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import stalls
from loadgen import WrkSettings, run_wrk, write_lua
from procs import HOST, Server, free_port, running, tail
from report import Outcome, host_info, record, table
from targets import REPO, SCENARIOS, Scenario, Target, Workspace, with_metrics

SERVER_CPU, WRK_CPU = "0", "1"
RESULTS = REPO / "bench" / "results"


def _at_least_one(text: str) -> int:
    """A whole number >= 1: wrk takes whole seconds only ("-d0.5s" is a usage error)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"need a whole number >= 1, not {text!r}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios (default: all of {', '.join(SCENARIOS)})",
    )
    p.add_argument("--duration", type=_at_least_one, default=10, help="seconds per measured run")
    p.add_argument("--quick", action="store_true", help="3s runs, 1s warm-ups")
    p.add_argument("--warmup", type=_at_least_one, default=None, help="warm-up seconds (default 2)")
    p.add_argument(
        "--rounds",
        type=_at_least_one,
        default=1,
        metavar="N",
        help="run each scenario N times, servers alternating; report each target's median round",
    )
    p.add_argument(
        "--metrics",
        action="store_true",
        help="also measure gateway targets with [server] metrics on (+metrics rows)",
    )
    p.add_argument(
        "--targets",
        default="",
        metavar="WORDS",
        help="comma-separated words: measure only targets whose label has one "
        "(e.g. 'gateway,nginx'); ratios need their peers kept",
    )
    p.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    p.add_argument(
        "--server-cpus",
        default=SERVER_CPU,
        metavar="LIST",
        help="taskset CPU list for the servers (default 0; '0,1' lets --workers 2 "
        "spread over both cores, sharing CPU 1 with wrk)",
    )
    p.add_argument(
        "--startup-timeout",
        type=float,
        default=15.0,
        help="seconds a server gets to accept connections",
    )
    p.add_argument(
        "--stalls",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="first measure how often the idle machine stops a spinning thread on the "
        "server's and wrk's CPUs (bench/stalls.py), the floor of every p99; 0: skip",
    )
    p.add_argument(
        "--python",
        default=None,
        help="interpreter for gateway and uvicorn (default: the repository's .venv)",
    )
    args = p.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenario(s) {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    if args.quick:
        args.duration = 3
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    venv = REPO / ".venv" / "bin" / "python"
    args.python = args.python or str(venv if venv.exists() else sys.executable)
    if os.sep in args.python:  # servers run from other directories
        args.python = os.path.abspath(args.python)
    return args


def fetch(
    port: int, path: str, scheme: str = "http", headers: tuple[str, ...] = ()
) -> tuple[int, list[tuple[str, str]], bytes]:
    if scheme == "https":  # the bench's own self-signed certificate
        unverified = ssl._create_unverified_context()
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            HOST, port, timeout=5, context=unverified
        )
    else:
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", path, headers=dict(h.split(": ", 1) for h in headers))
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def measure(
    target: Target, scenario: Scenario, server: Server, args: argparse.Namespace, wrk: WrkSettings
) -> Outcome:
    """Body check, warm-up, measured run; every failure becomes the Outcome's status."""
    out = Outcome(target, f"{scenario.scheme}://{HOST}:{server.port}{target.path}")
    try:
        status, headers, body = fetch(server.port, target.path, scenario.scheme)
    except (OSError, http.client.HTTPException) as exc:
        status, headers, body = 0, [], repr(exc).encode()
    out.check = {
        "status": status,
        "headers": headers,
        "body_len": len(body),
        "body_matches": body == scenario.body,
    }
    if status != 200:
        out.status, out.detail = "check failed", f"GET {target.path} -> {status}: {body[:200]!r}"
        return out
    if body != scenario.body:
        out.detail = f"body differs from the peers': {body[:80]!r} ({len(body)} bytes)"
    if scenario.headers:  # what the measured requests get: the encoded size and coding
        _, sent_headers, sent = fetch(server.port, target.path, scenario.scheme, scenario.headers)
        coding = dict((k.lower(), v) for k, v in sent_headers).get("content-encoding", "-")
        out.check.update(encoded_len=len(sent), content_encoding=coding)
    try:
        run_wrk(out.url, args.warmup, wrk)
        out.figures = run_wrk(out.url, args.duration, wrk, server.popen.pid)
    except RuntimeError as exc:
        out.status, out.detail = "wrk failed", str(exc)
    if server.popen.poll() is not None:
        out.status = "server died"
        out.detail = f"exited with {server.popen.returncode}\n{tail(server.log)}"
    return out


def run_scenario(
    scenario: Scenario, ws: Workspace, args: argparse.Namespace, wrk: WrkSettings
) -> list[Outcome]:
    """`args.rounds` times over, so a drifting machine hits every server alike; each
    target keeps its median round by the scenario's headline figure."""
    if scenario.pipeline > 1:
        lua = write_lua(ws.root / f"{scenario.name}.lua", scenario.pipeline)
        wrk = dataclasses.replace(wrk, lua=lua)
    if scenario.headers:
        wrk = dataclasses.replace(wrk, headers=scenario.headers)
    with contextlib.ExitStack() as stack:
        if scenario.upstream:
            stack.enter_context(_origin(ws, args))
        rounds = [_one_round(scenario, ws, args, wrk, n) for n in range(args.rounds)]
    return [_median(scenario, [r[i] for r in rounds]) for i in range(len(scenario.targets))]


@contextlib.contextmanager
def _origin(ws: Workspace, args: argparse.Namespace) -> Iterator[None]:
    """The nginx origin behind the proxy scenario's servers, for the whole scenario."""
    port = free_port()
    argv, cwd = ws.upstream_command(port, WRK_CPU)
    with running("origin", argv, port, cwd, ws.logs / "proxy-origin.log") as origin:
        error = origin.wait_ready(args.startup_timeout)
        if error:
            raise SystemExit(f"bench: the proxy origin did not start: {error}")
        yield


def _median(scenario: Scenario, tries: list[Outcome]) -> Outcome:
    measured = sorted(
        (o for o in tries if o.figures), key=lambda o: getattr(o.figures, scenario.headline)
    )
    chosen = measured[(len(measured) - 1) // 2] if measured else tries[-1]
    chosen.rounds = [o.figures.as_dict() if o.figures else o.status for o in tries]
    if measured and len(measured) < len(tries):
        failed = next(o for o in tries if not o.figures)
        chosen.detail += f"\n{len(tries) - len(measured)} of {len(tries)} rounds failed: "
        chosen.detail += f"{failed.status}: {failed.detail}"
    return chosen


def _one_round(
    scenario: Scenario, ws: Workspace, args: argparse.Namespace, wrk: WrkSettings, n: int
) -> list[Outcome]:
    """One server process at a time: start it, measure its targets, stop it."""
    outcomes: dict[str, Outcome] = {}
    for name in dict.fromkeys(t.server for t in scenario.targets):
        port = free_port()
        argv, cwd = ws.command(name, port)
        log = ws.logs / f"{scenario.name}-{name}-{n}.log"
        with running(name, argv, port, cwd, log) as server:
            error = server.wait_ready(args.startup_timeout)
            for target in (t for t in scenario.targets if t.server == name):
                if error:
                    out = Outcome(
                        target,
                        f"http://{HOST}:{port}{target.path}",
                        "failed to start",
                        f"{error}\n{tail(log)}".rstrip(),
                    )
                else:
                    out = measure(target, scenario, server, args, wrk)
                _progress(scenario, out, n)
                outcomes[target.label] = out
    return [outcomes[t.label] for t in scenario.targets]


def _progress(scenario: Scenario, out: Outcome, n: int) -> None:
    f = out.figures
    said = f"{f.rps:.0f} req/s, {f.mbps:.1f} MB/s, {f.cpu_us:.1f} us/req" if f else out.status
    if f and "encoded_len" in out.check:
        said += f", {out.check['encoded_len']} B {out.check['content_encoding']}"
    print(
        f"  [{n + 1}] {scenario.name:<10} {out.target.label:<19} {said}",
        file=sys.stderr,
        flush=True,
    )


def _kept(scenario: Scenario, words: str) -> Scenario:
    """The scenario with only the targets whose label contains one of `words` (all: "")."""
    wanted = [w.strip() for w in words.split(",") if w.strip()]
    if not wanted:
        return scenario
    targets = tuple(t for t in scenario.targets if any(w in t.label for w in wanted))
    return dataclasses.replace(scenario, targets=targets)


def stall_floor(seconds: float, server_cpus: str) -> list[str]:
    """bench/stalls.py's per-CPU lines for the server's and wrk's CPUs ([] when skipped)."""
    if seconds <= 0:
        return []
    cpus = sorted({int(c) for c in server_cpus.split(",") if c.isdigit()} | {int(WRK_CPU)})
    found, _others = stalls.measure(seconds, [c for c in cpus if c < (os.cpu_count() or 1)])
    return [s.line() for s in found]


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally that stops a server


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing:  # a missing server (nginx) is reported per target instead
        print(f"bench: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    scenarios = [_kept(SCENARIOS[name], args.targets) for name in dict.fromkeys(args.only)]
    if args.metrics:
        scenarios = [with_metrics(s) for s in scenarios]
    host = host_info(args.python, REPO)
    started = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stalls = stall_floor(args.stalls, args.server_cpus)
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        ws = Workspace(Path(tmp), args.python, args.workers, args.server_cpus)
        ws.prepare()
        wrk = WrkSettings(
            threads=1, connections=64, cpu=WRK_CPU, lua=write_lua(ws.root / "done.lua")
        )
        results = [(s, run_scenario(s, ws, args, wrk)) for s in scenarios]
    how = (
        f"wrk -t{wrk.threads} -c{wrk.connections} -d{args.duration}s --latency "
        f"(warm-up {args.warmup}s), median of {args.rounds} round(s); server on CPU "
        f"{args.server_cpus}, wrk on CPU {WRK_CPU}; gateway workers={args.workers}"
    )
    print("\n\n".join(table(s, outcomes, how) for s, outcomes in results))
    if stalls:
        print("\nthe idle machine before the runs (bench/stalls.py): " + "; ".join(stalls))
    settings = {
        "started": started,
        "duration": args.duration,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "threads": wrk.threads,
        "connections": wrk.connections,
        "workers": args.workers,
        "server_cpu": args.server_cpus,
        "wrk_cpu": WRK_CPU,
        "idle_stalls": stalls,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{started}.json"
    path.write_text(json.dumps(record(settings, host, results), indent=2) + "\n")
    print(f"\nresults: {path.relative_to(REPO)}")
    failed = any(o.status != "ok" for _, outcomes in results for o in outcomes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
