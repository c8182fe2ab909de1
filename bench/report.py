"""Turning outcomes into the printed table and the JSON record: ratios against each
scenario's peers, the machine and versions the figures came from. Figures are only
comparable within one run, so the record keeps everything needed to judge that."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen import Figures
from targets import Scenario, Target

NOISY = 10.0  # % of one CPU other processes may use before a row is marked ~


@dataclass
class Outcome:
    target: Target
    url: str
    status: str = "ok"  # ok | failed to start | check failed | wrk failed | server died
    detail: str = ""  # why it failed, or a warning (body differs), with the log tail
    figures: Figures | None = None
    check: dict[str, Any] = field(default_factory=dict)
    rounds: list[dict[str, Any] | str] = field(default_factory=list)  # figures or status


def ratios(scenario: Scenario, outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    """{label: {peer label: headline / peer's headline}} for every measured pair."""
    by_label = {o.target.label: o.figures for o in outcomes}
    out: dict[str, dict[str, float]] = {}
    for o in outcomes:
        for peer in scenario.peers:
            base = by_label.get(peer)
            if o.figures and base and getattr(base, scenario.headline):
                value = getattr(o.figures, scenario.headline) / getattr(base, scenario.headline)
                out.setdefault(o.target.label, {})[peer] = value
    return out


def _ms(value: float) -> str:
    return f"{value * 1000:.0f}us" if value < 1 else f"{value:.2f}ms"


def table(scenario: Scenario, outcomes: list[Outcome], how: str) -> str:
    unit = "MB/s" if scenario.headline == "mbps" else "req/s"
    lines = [
        f"== {scenario.name}: {scenario.about}",
        f"   {how}; ratios compare {unit}",
        "   us/req: server CPU microseconds per request; "
        "cpu s/w/o: % of one CPU used by the server, wrk and other processes; "
        f"~ marks other > {NOISY:g}%: a shared machine, rerun",
    ]
    head = (
        f"{'target':<19}{'req/s':>10}{'MB/s':>9}{'p50':>9}{'p99':>9}{'p99/p50':>8}{'B/req':>9}{'err':>6}"
        f"{'us/req':>8}{'cpu s/w/o':>12}"
    )
    head += "".join(f"  {'vs ' + p:>20}" for p in scenario.peers)
    lines += [head, "-" * len(head)]
    rel = ratios(scenario, outcomes)
    notes: dict[tuple[str, str], list[str]] = {}  # one note for targets that failed alike
    for o in outcomes:
        f = o.figures
        if f is None:
            why = o.detail.partition("\n")[0]
            lines.append(f"{o.target.label:<19}  {o.status}: {why}")
        else:
            row = (
                f"{o.target.label:<19}{f.rps:>10.0f}{f.mbps:>9.1f}{_ms(f.p50_ms):>9}"
                f"{_ms(f.p99_ms):>9}{_times(f.p99_ms, f.p50_ms):>8}"
                f"{f.bytes_per_req:>9.0f}{f.errors:>6}"
                f"{f.cpu_us:>8.1f}{_cpu(f.cpu):>12}"
            )
            row += "".join(
                f"  {rel[o.target.label][p]:>19.2f}x"
                if p in rel.get(o.target.label, {})
                else f"  {'-':>20}"
                for p in scenario.peers
            )
            noisy = f.cpu.get("other", 0.0) > NOISY
            lines.append(row + ("  !" if o.detail else "") + ("  ~" if noisy else ""))
        if o.detail:
            notes.setdefault((o.status, o.detail), []).append(o.target.label)
    for (status, detail), labels in notes.items():
        lines.append(f"-- {', '.join(labels)}: {status}\n{_indent(detail)}")
    return "\n".join(lines)


def _times(over: float, under: float) -> str:
    return f"{over / under:.2f}x" if over > 0 and under > 0 else "-"


def _cpu(cpu: dict[str, float]) -> str:
    return "/".join(f"{cpu[k]:.0f}" for k in ("server", "wrk", "other")) if cpu else "-"


def _indent(text: str) -> str:
    return "\n".join("   " + ln for ln in text.splitlines())


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return (done.stdout + done.stderr).strip()


def host_info(python: str, repo: Path) -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    versions = _run(
        [
            python,
            "-c",
            "import importlib.metadata as m, json; print(json.dumps({p: "
            "m.version(p) for p in ('uvicorn', 'starlette', 'httptools', 'uvloop')}))",
        ]
    )
    commit = _run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    dirty = bool(_run(["git", "-C", str(repo), "status", "--porcelain", "--", "gateway"]))
    wrk = _run(["wrk", "-v"]).splitlines()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": _run([python, "-c", "import sys; print(sys.version.split()[0])"]),
        "peers": json.loads(versions) if versions.startswith("{") else versions,
        "nginx": _run(["nginx", "-v"]).removeprefix("nginx version: "),
        "wrk": wrk[0] if wrk else "",
        "gateway_commit": commit + ("+dirty" if dirty else ""),
        "loadavg_at_start": os.getloadavg(),  # (1, 5, 15 min): was the machine idle?
    }


def record(
    settings: dict[str, Any], host: dict[str, Any], results: list[tuple[Scenario, list[Outcome]]]
) -> dict[str, Any]:
    scenarios = []
    for scenario, outcomes in results:
        rel = ratios(scenario, outcomes)
        scenarios.append(
            {
                "name": scenario.name,
                "about": scenario.about,
                "headline": scenario.headline,
                "peers": list(scenario.peers),
                "results": [
                    {
                        "label": o.target.label,
                        "server": o.target.server,
                        "url": o.url,
                        "status": o.status,
                        "detail": o.detail,
                        "check": o.check,
                        "figures": o.figures.as_dict() if o.figures else None,
                        "rounds": o.rounds,
                        "ratios": rel.get(o.target.label, {}),
                    }
                    for o in outcomes
                ],
            }
        )
    return {"settings": settings, "host": host, "scenarios": scenarios}
