"""Process-level operations of `gateway serve`: the signal handlers (SIGHUP reload, SIGUSR1
log reopen, SIGINT/SIGTERM drain) and the pid file that `gateway reload` signals. A handler
only queues work (Reloader.request_reload, Loop.call_soon_threadsafe): both are safe there."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.metrics.shared import pid_alive
from gateway.server import upgrade as upgrades

if TYPE_CHECKING:
    from gateway.reload import Reloader
    from gateway.server.serve import Server

log = logging.getLogger("gateway.server")


def install(server: Server, reloader: Reloader | None, upgrade: bool = True) -> None:
    """SIGINT/SIGTERM drain and stop; SIGHUP rebuilds as a save would; SIGUSR1 reopens logs;
    SIGUSR2 (`upgrade`: one process, not a prefork worker) starts a new gateway on our
    listening sockets, which tells us to drain once it serves. In a prefork worker SIGUSR2
    comes from the master: see upgrade.install_in_worker."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: server.request_shutdown())
    if reloader is not None:
        signal.signal(signal.SIGHUP, lambda signum, frame: reloader.request_reload())
    signal.signal(
        signal.SIGUSR1, lambda signum, frame: server.call_soon_threadsafe(server.reopen_logs)
    )
    if not upgrade:  # a prefork worker: its master decides
        upgrades.install_in_worker(server)
    else:
        signal.signal(
            signal.SIGUSR2,
            lambda signum, frame: server.call_soon_threadsafe(lambda: start_successor(server)),
        )


def start_successor(server: Server) -> None:
    """SIGUSR2, on the loop: run our own command line again with our listening sockets
    handed over at fd 3.. (LISTEN_FDS). The sockets are shared, not copied: connections
    waiting in their backlog go to whichever process accepts, and none is refused. We keep
    serving until the successor sends SIGTERM."""
    if server.shutting_down or not server.listeners:
        return
    tls = getattr(server.ctx, "tls", None)  # a TlsSite: its listeners' bound addresses
    secure = tls.bound if tls is not None else frozenset()
    order = sorted(server.listeners, key=lambda address: address in secure)  # plain first
    socks = [server.listeners[address] for address in order]
    names = [f"gateway-shared-{'https' if a in secure else 'http'}" for a in order]
    if upgrades.start_new_gateway(socks, names) is not None:
        server.drain_idle_after = upgrades.UPGRADE_IDLE_GRACE


def tell_predecessor(server: Server) -> int | None:
    """In a gateway started by SIGUSR2: once our loop runs (we serve), SIGTERM the old one
    so it drains. The old pid, or None when we were not started that way."""
    old = upgrades.take_predecessor()
    if old is None:
        return None

    def ready() -> None:
        log.info("upgrade: serving; asking pid %d to drain", old)
        with contextlib.suppress(ProcessLookupError):
            os.kill(old, signal.SIGTERM)

    server.loop.call_soon(ready)
    return old


def reset_in_child() -> None:
    """A forked worker stops on SIGINT/SIGTERM until serve_single installs its handlers; a
    SIGHUP or SIGUSR1 the master forwards before then is ignored (its default would kill
    it, and a worker starting now builds from the newest app and opens its logs anyway)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH):
        signal.signal(sig, signal.SIG_IGN)


class PidFile:
    """`[server] pid_file`: written once listening, removed at exit. A file naming a live
    process that is not us is refused (another gateway runs); a stale one is replaced."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, predecessor: int | None = None) -> None:
        """`predecessor`: the gateway we take over from (SIGUSR2); its pid may be there."""
        other = read_pid(self.path)
        if other not in (None, os.getpid(), predecessor) and pid_alive(other):
            raise OSError(f"{self.path}: gateway already runs as pid {other}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_text(f"{os.getpid()}\n")
        os.replace(tmp, self.path)  # atomic: `gateway reload` never reads half a pid

    def remove(self) -> None:
        if read_pid(self.path) == os.getpid():  # a successor may have written its own
            with contextlib.suppress(OSError):
                self.path.unlink()


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def send(path: Path, signum: int) -> str | None:
    """Signal the gateway whose pid `path` holds; an error message, or None when sent."""
    pid = read_pid(path)
    if pid is None:
        return f"{path}: no pid file (is gateway running with [server] pid_file set?)"
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return f"{path}: names pid {pid}, which is not running (a stale pid file)"
    except PermissionError:
        return f"{path}: not allowed to signal pid {pid} (run as its user)"
    return None


def reload_running(config_path: str) -> int:
    """`gateway reload`: SIGHUP to the pid in the config's [server] pid_file; exit status."""
    from gateway.config.load import load_config
    from gateway.errors import ConfigError

    try:
        config = load_config(config_path)
    except (ConfigError, OSError) as exc:
        partial = getattr(exc, "partial", None)
        if partial is None:
            print(f"gateway reload: cannot read {config_path}: {exc}", file=sys.stderr)
            return 1
        config = partial  # the running one validates and reports the errors itself
    path = config.server.pid_file
    if path is None:
        print(
            f"gateway reload: {config_path} sets no [server] pid_file: add e.g. "
            'pid_file = "gateway.pid" (or send SIGHUP to the process yourself)',
            file=sys.stderr,
        )
        return 1
    error = send(path, signal.SIGHUP)
    if error is not None:
        print(f"gateway reload: {error}", file=sys.stderr)
        return 1
    print(f"sent SIGHUP to pid {read_pid(path)}")
    return 0
