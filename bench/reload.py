"""Reload latency: the time from a file's save to the first response served by the new app, for
gateway (a handler edit, a config edit, poll mode, and the live-reload event after a static edit)
and for uvicorn --reload on an equivalent app, in the same run. Prints one table."""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from procs import HOST, free_port, running, tail

REPO = Path(__file__).resolve().parent.parent
POLL_GAP = 0.002  # between polls: a tighter loop would compete with the rebuild for the CPU


@dataclass
class Outcome:
    name: str
    what: str
    samples: list[float] = field(default_factory=list)  # seconds, one per edit
    errors: list[str] = field(default_factory=list)


@dataclass
class Settings:
    edits: int
    pause: float  # after each edit is served, so every edit starts from an idle reloader
    settle: float  # after a server first accepts connections, before the first edit
    timeout: float
    python: str
    workdir: Path


# -- the sites -----------------------------------------------------------------------------

GATEWAY_TOML = """
    [server]
    listen = ["127.0.0.1:{port}"]
    access_log = "off"

    [dev]
    reload = true
    live_reload = {live}
    watch = "{watch}"
    debounce = "{debounce}ms"

    [[static]]
    prefix = "/"
    dir = "public"

    [[route]]
    path = "/v"
    handler = "api.app:version"

    [[route]]
    path = "/c"
    respond = {{ status = 200, body = "{body}" }}
"""

HANDLER = 'def version(request):\n    return "{n:03d}"\n'
ASGI = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]}})
    await send({{"type": "http.response.body", "body": b"{n:03d}"}})
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def gateway_site(
    root: Path, port: int, watch: str = "native", live: bool = False, debounce: int = 50
) -> Path:
    config = textwrap.dedent(GATEWAY_TOML).format(
        port=port, watch=watch, live=str(live).lower(), body="000", debounce=debounce
    )
    write(root / "gateway.toml", config)
    write(root / "api/__init__.py", "")
    write(root / "api/app.py", HANDLER.format(n=0))
    write(root / "public/index.html", "<html><body>0</body></html>\n")
    return root / "gateway.toml"


# -- measuring -----------------------------------------------------------------------------


class Poller:
    """GETs on one keep-alive connection, opening a new one after any error: gateway keeps
    the connection across a reload; uvicorn's restart drops it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> bytes | None:
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
            self.conn.request("GET", path)
            return self.conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            self.close()
            return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def served_after(poller: Poller, path: str, expected: bytes, saved: float, timeout: float) -> float:
    """Seconds from `saved` to the first response with `expected`."""
    deadline = saved + timeout
    while time.perf_counter() < deadline:
        if poller.get(path) == expected:
            return time.perf_counter() - saved
        time.sleep(POLL_GAP)
    raise TimeoutError(f"{path} did not answer {expected!r} within {timeout:g}s")


def edit_loop(out: Outcome, s: Settings, edit: Callable[[int], float]) -> None:
    """Run `edit(n)` (returns the latency of edit n) for n = 1..edits, collecting errors.
    Waits `settle` first: a server's port accepts before its file watcher has started."""
    time.sleep(s.settle)
    jitter = random.Random(6)  # the same pauses every run
    for n in range(1, s.edits + 1):
        try:
            out.samples.append(edit(n))
        except (TimeoutError, OSError) as exc:
            out.errors.append(f"edit {n}: {exc}")
        # Jittered, so edits do not keep one phase against a polling reloader's period.
        time.sleep(s.pause + jitter.uniform(0, 0.5))


def gateway_edits(
    s: Settings,
    name: str,
    what: str,
    watch: str = "native",
    config_edit: bool = False,
    debounce: int = 50,
) -> Outcome:
    out = Outcome(name, what)
    port = free_port()
    root = s.workdir / f"gateway-{watch}-{debounce}-{'config' if config_edit else 'handler'}"
    config = gateway_site(root, port, watch, debounce=debounce)
    argv = [s.python, "-m", "gateway", "serve", "--reload", "--config", str(config)]
    poller = Poller(port)

    def edit(n: int) -> float:
        if config_edit:
            text = config.read_text().split("body = ")[0] + f'body = "{n:03d}" }}\n'
            write(config, text)
        else:
            write(root / "api/app.py", HANDLER.format(n=n))
        saved = time.perf_counter()
        path = "/c" if config_edit else "/v"
        return served_after(poller, path, f"{n:03d}".encode(), saved, s.timeout)

    with running(name, argv, port, REPO, root / "server.log") as server:
        problem = server.wait_ready(15)
        if problem:
            out.errors.append(f"{problem}\n{tail(server.log)}")
            return out
        edit_loop(out, s, edit)
        poller.close()
    return out


def gateway_live(s: Settings) -> Outcome:
    """A static HTML edit, measured to the `event: reload` line on the event stream."""
    out = Outcome("gateway live reload", "static .html edit -> reload event")
    port = free_port()
    root = s.workdir / "gateway-live"
    gateway_site(root, port, live=True)
    argv = [s.python, "-m", "gateway", "serve", "--reload", "--config", str(root / "gateway.toml")]
    with running(out.name, argv, port, REPO, root / "server.log") as server:
        problem = server.wait_ready(15)
        if problem:
            out.errors.append(f"{problem}\n{tail(server.log)}")
            return out
        with socket.create_connection((HOST, port), timeout=s.timeout) as sock:
            sock.sendall(b"GET /__gateway/events HTTP/1.1\r\nHost: bench\r\n\r\n")
            stream = _Stream(sock)
            stream.wait_for(b"event: hello")

            def edit(n: int) -> float:
                write(root / "public/index.html", f"<html><body>{n}</body></html>\n")
                saved = time.perf_counter()
                stream.wait_for(b"event: reload")
                return time.perf_counter() - saved

            edit_loop(out, s, edit)
    return out


class _Stream:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""

    def wait_for(self, marker: bytes) -> None:
        while marker not in self.data:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("event stream ended")
            self.data += chunk
        self.data = self.data.split(marker, 1)[1]


def uvicorn_edits(s: Settings) -> Outcome:
    reloader = "WatchFiles" if _has("watchfiles") else "StatReload"
    out = Outcome(f"uvicorn --reload ({reloader})", "handler module edit")
    port = free_port()
    root = s.workdir / "uvicorn"
    write(root / "app.py", ASGI.format(n=0))
    argv = [
        s.python,
        "-m",
        "uvicorn",
        "app:app",
        "--reload",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    poller = Poller(port)

    def edit(n: int) -> float:
        write(root / "app.py", ASGI.format(n=n))
        saved = time.perf_counter()
        return served_after(poller, "/", f"{n:03d}".encode(), saved, s.timeout)

    with running(out.name, argv, port, root, root / "server.log") as server:
        problem = server.wait_ready(15)
        if problem:
            out.errors.append(f"{problem}\n{tail(server.log)}")
            return out
        edit_loop(out, s, edit)
        poller.close()
    return out


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# -- reporting -----------------------------------------------------------------------------


def table(outcomes: list[Outcome]) -> str:
    rows = [("target", "edit", "n", "median ms", "p90 ms", "worst ms", "errors")]
    for o in outcomes:
        ms = sorted(x * 1000 for x in o.samples)
        if ms:
            p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
            figures = (f"{statistics.median(ms):.0f}", f"{p90:.0f}", f"{ms[-1]:.0f}")
        else:
            figures = ("-", "-", "-")
        rows.append((o.name, o.what, str(len(ms)), *figures, str(len(o.errors))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=20, help="edits per target (default 20)")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between edits")
    parser.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="seconds between a server's start and its first edit (default 1)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="per edit, seconds")
    parser.add_argument("--python", default=str(REPO / ".venv/bin/python"))
    args = parser.parse_args(argv)
    # Same-second, same-size edits must not be served from stale bytecode by either server.
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory(prefix="gateway-reload-bench-") as tmp:
        s = Settings(args.edits, args.pause, args.settle, args.timeout, args.python, Path(tmp))
        outcomes = [
            gateway_edits(s, "gateway", "handler module edit"),
            gateway_edits(s, "gateway", "gateway.toml edit", config_edit=True),
            gateway_edits(s, "gateway debounce=0", "handler module edit", debounce=0),
            gateway_edits(s, "gateway watch=poll", "handler module edit", "poll"),
            gateway_live(s),
            uvicorn_edits(s),
        ]
    print(table(outcomes))
    for o in outcomes:
        for error in o.errors:
            print(f"{o.name}: {error}", file=sys.stderr)
    return 1 if any(o.errors for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
