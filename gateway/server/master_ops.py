"""The prefork master's operations: the metrics directory its workers publish to, the pid
file, SIGHUP (validate the config once, resize the pool to a new `workers`, then tell each
worker to rebuild), SIGUSR1 (forwarded: each worker reopens its log files), SIGWINCH (a
worker saw `workers` change on a watched save: resize) and SIGUSR2 (upgrade: a new gateway
on our very sockets; see upgrade.py). Handlers run on the main thread."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from typing import Any

from gateway.app import App, build_app
from gateway.config.load import load_config
from gateway.config.report import format_issues
from gateway.errors import ConfigError
from gateway.metrics import SharedDir
from gateway.server import upgrade
from gateway.server.run import WORKERS_CHANGED
from gateway.server.signals import PidFile, reset_in_child

log = logging.getLogger("gateway.server")

__all__ = ["WORKERS_CHANGED", "MasterOps", "reset_in_child"]


class MasterOps:
    """Around a workers._Master (typed Any: workers.py imports this module)."""

    def __init__(self, master: Any, config_path: str, app: App) -> None:
        self.master = master
        self.config_path = config_path
        self.workers = app.config.server.workers
        spec = app.config.server.pid_file
        self.pid_file = PidFile(spec) if spec is not None else None
        self.predecessor = upgrade.take_predecessor()  # set when SIGUSR2 started us

    def install(self) -> bool:
        """Before announcing: the metrics directory, the pid file and the signal handlers.
        False (after saying why) when the pid file cannot be written."""
        self.master.metrics_dir = SharedDir.create()
        if self.pid_file is not None:
            try:
                self.pid_file.write(self.predecessor)
            except OSError as exc:
                print(f"gateway: cannot write the pid file: {exc.strerror or exc}", file=sys.stderr)
                self.master.metrics_dir.remove()
                return False
        later = self.master.later  # run by the master's loop, not in the handler
        signal.signal(signal.SIGHUP, later(lambda: self.reload(forward=True)))
        signal.signal(WORKERS_CHANGED, later(lambda: self.reload(forward=False)))
        signal.signal(signal.SIGUSR1, later(lambda: self.forward(signal.SIGUSR1)))
        signal.signal(signal.SIGUSR2, later(lambda: upgrade.start_for_master(self.master)))
        return True

    def run(self, workers: int) -> int:
        self.workers = workers
        if self.predecessor is not None:  # it drains once all our workers serve
            upgrade.retire_when_ready(self.master, self.predecessor, workers)
        try:
            code: int = self.master.run(workers)
            return code
        finally:
            self.master.metrics_dir.remove()
            if self.pid_file is not None:
                self.pid_file.remove()

    def forward(self, signum: int) -> None:
        for pid in list(self.master.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def reload(self, forward: bool) -> None:
        """Validate once here; a broken config is logged and nothing changes."""
        if self.master.stopping:
            return
        config: Any = None
        try:
            config = load_config(self.config_path)
            app = build_app(config)
        except ConfigError as exc:
            root = config.server.root if config is not None else None
            text = "\n".join("  " + line for line in format_issues(exc.issues, root))
            log.error(
                "reload of %s failed; still serving the previous app:\n%s", self.config_path, text
            )
            self.master.metrics_dir.master_refused_reload(time.time())
            return
        except OSError as exc:
            log.error("reload of %s failed: cannot read it: %s", self.config_path, exc.strerror)
            self.master.metrics_dir.master_refused_reload(time.time())
            return
        self.master.app = app  # what workers started from now on begin with
        self.resize(config.server.workers)
        if forward:
            self.forward(signal.SIGHUP)

    def resize(self, wanted: int) -> None:
        """Start or stop workers until `wanted` run; stopped ones drain like at shutdown."""
        if wanted == self.workers:
            return
        log.info("workers: %d -> %d", self.workers, wanted)
        master = self.master
        self.workers = master.wanted = wanted
        while master.live() < wanted:
            master.spawn()
        for pid, slot in list(master.children.items()):
            if slot >= wanted and pid not in master.retiring:
                master.retiring.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        master.slots.truncate(wanted)
