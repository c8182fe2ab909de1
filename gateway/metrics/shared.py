"""Prefork aggregation: each worker writes a snapshot of its counters to <pid>.json in a
directory the master made, at most once a second from its loop tick (an atomic rename,
never on the hot path). The worker answering a scrape adds its live counters to its
siblings' files; the master folds an exited worker's counters into retired.json."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gateway.metrics.counters import Metrics
from gateway.metrics.render import merge

PUBLISH_INTERVAL = 1.0  # seconds: how stale a sibling's counters may be in a scrape
RETIRED = "retired.json"
MASTER = "master.reloads"  # reloads the master refused: no worker ever saw them (not .json)


class SharedDir:
    """The snapshots of one master's workers. Create it in the master before forking
    (`SharedDir.create()`), hand it to each worker, `remove()` it when the master exits."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._next_publish = 0.0

    @classmethod
    def create(cls) -> SharedDir:
        return cls(tempfile.mkdtemp(prefix="gateway-metrics-"))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    # -- workers --------------------------------------------------------------------------

    def publish(self, metrics: Metrics, pid: int | None = None) -> None:
        """Write this worker's snapshot for its siblings (atomically: a scrape never reads
        half a file)."""
        pid = os.getpid() if pid is None else pid
        tmp = self.path / f".{pid}.tmp"
        tmp.write_text(json.dumps(metrics.snapshot()))
        os.replace(tmp, self.path / f"{pid}.json")

    def maybe_publish(self, metrics: Metrics, now: float) -> None:
        """Publish when PUBLISH_INTERVAL has passed since the last time (`now` monotonic):
        call it from the loop's tick."""
        if now >= self._next_publish:
            self._next_publish = now + PUBLISH_INTERVAL
            # OSError: the master removed the directory, it is shutting down.
            with contextlib.suppress(OSError):
                self.publish(metrics)

    def collect(self, metrics: Metrics) -> dict[str, Any]:
        """The merged snapshot for a scrape: this process live, its siblings as last
        published; the files of processes gone count as retired (counters, no gauges)."""
        me = os.getpid()
        live: list[dict[str, Any]] = [metrics.snapshot()]
        retired: list[dict[str, Any]] = []
        for pid, snap in self._read_all():
            if pid == me:
                continue
            (live if pid is not None and pid_alive(pid) else retired).append(snap)
        merged = merge(live, retired)
        refused = _read(self.path / MASTER)
        if refused is not None:  # failures are the master's alone: add them
            merged["reloads"] = dict(merged["reloads"])
            failures = merged["reloads"].get("failure", 0) + refused["failure"]
            merged["reloads"]["failure"] = failures
            merged["reloads"].setdefault("success", 0)
            stamps = [s for s in (merged["last_reload"], refused["last_reload"]) if s]
            merged["last_reload"] = max(stamps, key=lambda s: s[0])
        return merged

    # -- the master -----------------------------------------------------------------------

    def retire(self, pid: int) -> None:
        """Fold exited worker `pid`'s counters into retired.json, so totals never go
        backwards when a worker is replaced; its gauges and upstream view are dropped."""
        path = self.path / f"{pid}.json"
        snap = _read(path)
        if snap is None:
            return
        old = _read(self.path / RETIRED)
        folded = merge([], [snap] if old is None else [old, snap])
        tmp = self.path / ".retired.tmp"
        tmp.write_text(json.dumps(folded))
        os.replace(tmp, self.path / RETIRED)
        path.unlink(missing_ok=True)

    def master_refused_reload(self, when: float) -> None:
        """The master validated a reload (SIGHUP) and found the config broken: the workers
        were not told, so count the failure here for every scrape to add."""
        old = _read(self.path / MASTER) or {"failure": 0}
        data = {"failure": old["failure"] + 1, "last_reload": [when, False]}
        tmp = self.path / ".master.tmp"
        with contextlib.suppress(OSError):  # metrics must never stop a reload's logging
            tmp.write_text(json.dumps(data))
            os.replace(tmp, self.path / MASTER)

    def _read_all(self) -> list[tuple[int | None, dict[str, Any]]]:
        found: list[tuple[int | None, dict[str, Any]]] = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.path):
                if not entry.name.endswith(".json") or entry.name.startswith("."):
                    continue
                snap = _read(Path(entry.path))
                if snap is None:
                    continue
                stem = entry.name.removesuffix(".json")
                found.append((int(stem) if stem.isdigit() else None, snap))
        return found


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # gone (retired meanwhile) or unreadable: skip it this scrape
    return data


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
