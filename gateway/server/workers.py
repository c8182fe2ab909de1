"""Prefork: the master binds a listening SO_REUSEPORT socket per address for each worker
slot and holds them (slots.py), forks N workers that each serve their slot's sockets with
their own loop, forwards SIGINT/SIGTERM to them, and replaces a worker that dies while not
shutting down (in the same slot: its queue waits for the replacement)."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from gateway import __version__
from gateway.activation import ActivationError, inherited_sockets
from gateway.app import App
from gateway.metrics import SharedDir
from gateway.server import master_ops, upgrade
from gateway.server.run import serve_single
from gateway.server.slots import Slots
from gateway.server.stopping import dev_modes

log = logging.getLogger("gateway.server")

RESPAWN_DELAY = 1.0


def serve_prefork(config_path: str, app: App, listen: list[str], workers: int, reload: bool) -> int:
    secure = [a for a in (app.config.tls.listen if app.config.tls else ()) if a not in listen]
    tls_site = None
    if app.config.tls is not None:  # built once: workers share its CA, files, ticket keys
        from gateway.tls.serving import BUILD_ERRORS, build_site

        try:
            tls_site = build_site(app.config)
        except BUILD_ERRORS as exc:
            print(f"gateway: [tls]: {exc}", file=sys.stderr)
            return 1
    try:
        handed = inherited_sockets()  # socket activation, or an upgrade's hand-over
    except ActivationError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1
    try:
        slots = Slots.from_handed(handed) if handed else Slots.bind(listen, secure, workers)
        slots.ensure(workers)
    except OSError as exc:
        wanted = ", ".join([*listen, *secure])
        print(f"gateway: cannot listen on {wanted}: {exc.strerror}", file=sys.stderr)
        return 1
    master = _Master(config_path, app, slots, reload)
    master.tls_site = tls_site
    ops = master_ops.MasterOps(master, config_path, app)
    if not ops.install():
        slots.close()
        return 1
    for address in slots.addresses:
        scheme = "https" if address in slots.secure else "http"
        print(
            f"gateway {__version__} serving {config_path} at {scheme}://{address}/ "
            f"with {workers} workers ({dev_modes(app.config.dev, reload)})",
            file=sys.stderr,
        )
    try:
        code = ops.run(workers)
    finally:
        slots.close()
    print("gateway stopped", file=sys.stderr)
    return code


class _Master:
    def __init__(self, config_path: str, app: App, slots: Slots, reload: bool) -> None:
        self.config_path = config_path
        self.app = app
        self.slots = slots  # the listening sockets, held here: see slots.py
        self.reload = reload
        self.children: dict[int, int] = {}  # pid -> its slot
        self.stopping = False
        self.renewer = 0  # the worker that runs ACME renewals (exactly one at a time)
        self.tls_site: Any = None  # gateway.tls.site.TlsSite, built before forking
        self.metrics_dir: SharedDir | None = None  # set by MasterOps: the workers' counters
        self.retiring: set[int] = set()  # stopped by a smaller `workers`: not replaced
        self.successor = 0  # the new gateway SIGUSR2 started, until it exits or we do
        # An upgrade's new master: the pipe its workers say "serving" on (upgrade.py).
        self.ready_fd: int | None = None
        self.upgrade_read_fd: int | None = None
        self.pending: list[Callable[[], None]] = []  # what signal handlers asked for
        self.respawns: list[float] = []  # when (monotonic) to replace exited workers
        self.wanted = 0  # how many workers should run
        self.wake: tuple[int, ...] = ()  # the pipe signals wake the master's loop through

    def later(self, action: Callable[[], None]) -> Callable[[int, Any], None]:
        """A signal handler that queues `action` for the master's loop. Never act in the
        handler: it may run inside os.fork (logging's fork hooks hold its lock), where
        forking again, as a reload, a resize or an upgrade may, would deadlock."""
        return lambda signum, frame: self.pending.append(action)

    def run(self, workers: int) -> int:
        self.wanted = workers
        wake_read, wake_write = self.wake = os.pipe()
        for fd in self.wake:
            os.set_blocking(fd, False)
        old_wakeup = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # wakes the select
        signal.signal(signal.SIGINT, self.later(self.stop))
        signal.signal(signal.SIGTERM, self.later(self.stop))
        try:
            for _ in range(workers):
                self.spawn()
            while True:
                while self.pending:  # a signal before the wake-up fd was set queued it too
                    self.pending.pop(0)()
                self._reap()
                self._respawn_due()
                if not self.children and (self.stopping or not self.respawns):
                    break
                due = min(self.respawns, default=None)
                timeout = None if due is None else max(0.0, due - time.monotonic())
                select.select([wake_read], [], [], timeout)
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 512)
        finally:
            signal.set_wakeup_fd(old_wakeup)
            os.close(wake_read)
            os.close(wake_write)
        return 0

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            self._exited(pid, status)

    def _exited(self, pid: int, status: int) -> None:
        if pid == self.successor:
            self.successor = 0
            log.error(
                "upgrade: the new gateway (pid %d) exited (status %d); still serving", pid, status
            )
            return
        self.children.pop(pid, None)
        if pid == self.renewer:
            self.renewer = 0  # the next worker started takes renewals over
        if self.metrics_dir is not None:
            self.metrics_dir.retire(pid)
        if pid in self.retiring:
            self.retiring.discard(pid)
        elif not self.stopping:
            log.warning("worker %d exited (status %d); starting another", pid, status)
            # a worker that dies at once must not spin the CPU
            self.respawns.append(time.monotonic() + RESPAWN_DELAY)

    def _respawn_due(self) -> None:
        now = time.monotonic()
        due = [t for t in self.respawns if t <= now]
        self.respawns = [t for t in self.respawns if t > now]
        for _ in due:
            if not self.stopping and self.live() < self.wanted:
                self.spawn()

    def live(self) -> int:
        return len(self.children) - len(self.retiring)

    def stop(self) -> None:
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def free_slot(self) -> int:
        """The lowest slot no live (non-retiring) worker serves: a replacement takes the
        slot, and the queue, of the worker it replaces."""
        taken = {slot for pid, slot in self.children.items() if pid not in self.retiring}
        return next(i for i in range(len(taken) + 1) if i not in taken)

    def spawn(self) -> None:
        renew = not self.renewer
        slot = self.free_slot()
        self.slots.ensure(slot + 1)
        master = os.getpid()
        pid = os.fork()
        if pid:
            self.children[pid] = slot
            self.renewer = pid if renew else self.renewer
            return
        code = 1
        try:
            master_ops.reset_in_child()
            stop_with_master(master)
            signal.set_wakeup_fd(-1)  # the master's: the worker sets its own
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in self.wake:
                os.close(fd)
            upgrade.in_child(self.ready_fd, self.upgrade_read_fd)
            for sock in self.slots.others(slot):  # theirs stay open in the master only
                sock.close()
            code = serve_single(
                self.config_path,
                self.app,
                self.slots.plain,
                self.reload,
                reuse_port=True,
                announce=False,
                renew=renew,
                tls_listen=self.slots.secure,
                tls_site=self.tls_site,
                metrics_dir=self.metrics_dir,
                sockets=list(self.slots.group(slot)),
            )
        except BaseException:
            log.exception("worker failed")
        finally:
            sys.stderr.flush()
            os._exit(code)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def stop_with_master(master: int) -> None:
    """In a worker: a SIGTERM (a graceful stop) when the master dies, even by SIGKILL, which
    it cannot forward: an orphan would go on serving its slot's port alone and old code.
    Linux only (prctl); elsewhere a master killed that way leaves its workers to be stopped
    by hand. The check after it: the master may have died before prctl ran."""
    if sys.platform.startswith("linux"):  # the process's own symbols include libc's prctl
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != master:
        os.kill(os.getpid(), signal.SIGTERM)
