"""The reload thread: it gathers the watcher's reports until they settle (debounce), rebuilds
the app off the loop when a file it is built from changed, and hands the new app to the loop,
which swaps it in between requests. A failed rebuild keeps the old app; the thread never dies."""

from __future__ import annotations

import importlib
import logging
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.app import App, all_issues, build_app
from gateway.cli_args import with_reload
from gateway.config.load import load_config
from gateway.config.report import format_issues
from gateway.config.schema import GatewayConfig
from gateway.config.source import display_name
from gateway.devaccess import DevAccess
from gateway.errors import ConfigError, ConfigIssue
from gateway.handlers import SiteModules
from gateway.livereload import HEARTBEAT, LiveReload
from gateway.reload.changes import (
    Digests,
    app_files,
    changed,
    digest,
    drop_bytecode,
    forget_modules,
    served_at,
    sha1_text,
    watch_plan,
)
from gateway.reload.summary import describe_changes, listen_changed
from gateway.reload.watch import Watcher

if TYPE_CHECKING:
    from gateway.server.serve import Server

log = logging.getLogger("gateway.reload")

CHECK_INTERVAL = 0.5  # seconds between checks that the watched folders are still there
MAX_SETTLE = 2.0  # a burst of events that never pauses is still handled after this long
HAND_OVER_WAIT = 5.0  # start() waits this long for the loop to take the live-reload app
REQUESTED = "\0requested"  # in the report queue: rebuild now, changed or not (SIGHUP)


class Reloader:
    """Rebuilds `server`'s app when the config, a handler module or an [errors] page changes,
    and tells browsers (live reload) when those or a served static file change. Call start()
    and stop() from the thread that owns the server; the counters are for tests and logs."""

    def __init__(self, config_path: Path, server: Server, watch: bool = True) -> None:
        # Not resolved: with a symlinked config (a Kubernetes ConfigMap) the link is what stays.
        self.config_path = Path(os.path.abspath(config_path))
        self.name = display_name(Path(config_path))
        self.server = server
        # watch=False: no file watching and no live reload, only request_reload() (SIGHUP
        # in production, where nothing should rebuild on its own).
        self.watching = watch
        self.live = LiveReload()
        self.rebuilds = 0  # apps built and handed to the loop
        self.failures = 0  # rebuilds that failed (the old app kept serving)
        self.skipped = 0  # settled batches in which nothing the app is built from changed
        self.checks = 0  # settled batches handled (the first is the check at start)
        self._basis: GatewayConfig = server.app.config  # the last config that parsed
        self._modules: SiteModules = server.app.modules
        self._digests: Digests = {}
        self._static: Digests = {}  # static files seen changing, to skip touches
        self._reports: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._watcher: Watcher | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.server.on_shutdown.append(self.live.close)
        # Watch first, then take the baseline, then check once: an edit made while the
        # server started is either in the baseline's difference or reported by the watcher.
        if self.watching:
            poll = self._basis.dev.watch == "poll"
            self._watcher = Watcher(self._reports.put, poll)
            self._watcher.apply(watch_plan(self.config_path, self._basis), poll)
        self._digests = self._baseline()
        if self._live_on(self._basis):
            self._start_live()
        self._thread = threading.Thread(target=self._run, name="gateway-reload", daemon=True)
        self._thread.start()
        self._reports.put(str(self.config_path))

    def _baseline(self) -> Digests:
        """Digests of what the running app was built from: the config text it parsed, and
        the module files, unless one changed since it was imported (then it counts as new)."""
        digests = digest(app_files(self.config_path, self._basis))
        digests[str(self.config_path)] = sha1_text(self._basis.source)
        imported = self._modules.files
        if self._modules.refresh():
            digests.update(dict.fromkeys(imported, ""))
        return digests

    def request_reload(self) -> None:
        """Re-read the config and rebuild now, as a save would, even when no file changed
        (SIGHUP). Safe in a signal handler: it only puts a marker on a SimpleQueue, whose
        put() is reentrant; the reload thread does the work, and a failed rebuild keeps
        the old app, as after a broken save."""
        self._reports.put(REQUESTED)

    def stop(self) -> None:
        self._stop.set()
        self._reports.put("")  # wakes the thread
        if self._thread is not None:
            self._thread.join(10)
        if self._watcher is not None:
            self._watcher.stop()

    def _start_live(self) -> None:
        """Serve the running config again with the live-reload hub in it. When the loop runs
        already, wait until it has swapped, so pages served after start() get the client."""
        try:
            app = self._compile(self._basis, [])
        except ConfigError as exc:
            issues = self._block(exc.issues)
            log.warning("live reload is off until %s builds:\n%s", self.name, issues)
            return
        swapped = threading.Event()
        self._hand_over(app, None, announce=False, then=swapped.set)
        if self.server.loop.running:
            swapped.wait(HAND_OVER_WAIT)

    # -- the thread -----------------------------------------------------------------------

    def _live_on(self, config: GatewayConfig) -> bool:
        return self.watching and config.dev.live_reload

    def _run(self) -> None:
        next_check = time.monotonic()
        next_beat = next_check + HEARTBEAT
        while not self._stop.is_set():
            batch = self._collect()
            if self._stop.is_set():
                return
            try:
                if batch:
                    self._on_changes(batch)
                    self.checks += 1
                now = time.monotonic()
                if now >= next_check and self._watcher is not None:
                    next_check = now + CHECK_INTERVAL
                    self._watcher.check()
                if now >= next_beat:
                    next_beat = now + HEARTBEAT
                    self.server.call_soon_threadsafe(self.live.heartbeat)
            except Exception:
                log.exception("reload: unexpected error; still watching")

    def _collect(self) -> set[str]:
        """Changed paths once they settle: `debounce` seconds pass with no new report (or
        MAX_SETTLE after the first one, so a steady stream cannot starve the rebuild)."""
        try:
            batch = {self._reports.get(timeout=CHECK_INTERVAL)}
        except queue.Empty:
            return set()
        debounce = self._basis.dev.debounce
        deadline = time.monotonic() + MAX_SETTLE
        while (wait := min(debounce, deadline - time.monotonic())) > 0:
            try:
                batch.add(self._reports.get(timeout=wait))
            except queue.Empty:
                break
        batch.discard("")
        return batch

    def _on_changes(self, batch: set[str]) -> None:
        requested = REQUESTED in batch
        batch.discard(REQUESTED)
        static = self._static_changes(batch) if self.server.app.live is not None else []
        if self._rebuild_if_changed(requested) or not static:
            return  # a new app reloads every page anyway
        if all(path.endswith(".css") and os.path.isfile(path) for path, _ in static):
            urls = sorted({url for _, found in static for url in found})
            self.server.call_soon_threadsafe(lambda: self.live.restyle(urls))
        else:
            self.server.call_soon_threadsafe(self.live.reload)

    def _static_changes(self, batch: set[str]) -> list[tuple[str, list[str]]]:
        """(path, URLs it is served at) for each served file whose bytes changed, and each
        served folder that came or went."""
        found = []
        for path in sorted(batch):
            urls = served_at(path, self._basis)
            if not urls:
                continue
            if not os.path.isdir(path):
                now = digest([path])[path]
                if now and self._static.get(path) == now:
                    continue  # touched or saved unchanged
                self._static[path] = now
            found.append((path, urls))
        return found

    # -- rebuilding -----------------------------------------------------------------------

    def _rebuild_if_changed(self, requested: bool = False) -> bool:
        """Rebuild when a file the app is built from changed, or when `requested`; True when
        a new app went to the loop. Digests are taken before anything is read for the
        build, so an edit made during a build is always seen as a change by the next batch."""
        digests = digest(app_files(self.config_path, self._basis))
        edited = changed(self._digests, digests)
        if not edited and not requested:
            self.skipped += 1
            log.debug("%s: nothing it is built from changed; not rebuilding", self.name)
            return False
        self._digests = digests
        drop_bytecode(edited)
        started = time.perf_counter()
        try:
            config = self._load()
            app = self._compile(config, edited)
        except ConfigError as exc:
            self._failed(self._block(exc.issues))
            return False
        except OSError as exc:
            self._failed(f"  {self.name}: cannot read: {exc.strerror or exc}")
            return False
        except Exception:  # a bug of ours: show it all, but keep serving and watching
            self._failed(f"  {self.name}: internal error\n{traceback.format_exc()}")
            return False
        took = (time.perf_counter() - started) * 1000
        self.rebuilds += 1
        shown = ", ".join(os.path.relpath(p, self.config_path.parent) for p in edited)
        why = f"after {shown} changed" if edited else "on request"
        what = describe_changes(self.server.app.config, config)
        message = f"reloaded {self.name} in {took:.0f} ms ({what}) {why}"
        self._hand_over(app, message, announce=True)
        return True

    def _load(self) -> GatewayConfig:
        """Read the config; on success it becomes the basis (what is watched and hashed)."""
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            raise ConfigError(self._more_issues(exc)) from None
        if self.watching:  # running, watching: reload is on (`--reload` over the file's false)
            config = with_reload(config, True)
        old = self._digests
        self._basis = config
        files = app_files(self.config_path, config)
        self._digests = {
            **digest(f for f in files if f not in old),
            **{f: old[f] for f in files if f in old},
        }
        if self._watcher is not None:
            self._watcher.apply(watch_plan(self.config_path, config), config.dev.watch == "poll")
        return config

    def _more_issues(self, exc: ConfigError) -> list[ConfigIssue]:
        """The load errors, plus what compiling the part that did load finds (as `gateway
        check` reports them), so one save shows every mistake."""
        partial = getattr(exc, "partial", None)
        return all_issues(exc, self._modules_for(partial) if partial is not None else None)

    def _modules_for(self, config: GatewayConfig) -> SiteModules:
        """The same SiteModules while the root stays, so modules are reused until edited."""
        if self._modules.root != config.server.root.resolve():
            self._modules = SiteModules(config.server.root)
        return self._modules

    def _compile(self, config: GatewayConfig, edited: Sequence[str]) -> App:
        modules = self._modules_for(config)
        importlib.invalidate_caches()  # new module files in a folder read moments ago
        if not modules.refresh() and any(path.endswith(".py") for path in edited):
            forget_modules(modules.root)
        self.live.access = DevAccess.from_config(config)  # who may see what, per config
        return build_app(config, modules, self.live if self._live_on(config) else None)

    def _failed(self, text: str) -> None:
        log.error("reload of %s failed; still serving the previous app:\n%s", self.name, text)
        self.server.call_soon_threadsafe(lambda: self.live.failed(text))
        when = time.time()
        self.server.call_soon_threadsafe(lambda: self.server.ops.metrics.reloaded(False, when))
        # Counted last: a test (or anything) that sees the count also sees the log line.
        self.failures += 1

    # -- the loop's side ------------------------------------------------------------------

    def _hand_over(
        self, app: App, message: str | None, announce: bool, then: Callable[[], None] | None = None
    ) -> None:
        """Swap `app` in on the loop thread, between requests."""

        def swap() -> None:
            old = self.server.app.config
            try:
                self.server.swap_app(app)
            except OSError as exc:
                log.error(
                    "%s: reloaded, but cannot listen on %s: %s",
                    self.name,
                    ", ".join(app.config.server.listen),
                    exc.strerror or exc,
                )
            except Exception:  # raised on the loop it would stop the server: log it instead
                log.exception("%s: swapping in the new app failed", self.name)
            if message:
                log.info("%s", message)
                self.server.ops.metrics.reloaded(True, time.time())  # on the loop thread
            if listen_changed(old, app.config):
                self._say_listen(app.config)
            if announce:
                self.live.reload(built=True)
                if app.live is None:
                    self.live.disconnect()  # live reload was turned off
            if then is not None:
                then()

        self.server.call_soon_threadsafe(swap)

    def _say_listen(self, config: GatewayConfig) -> None:
        """On the loop, after a swap: whether the server now listens where the config says
        (one process rebinds) or a restart is needed (the server kept its addresses, as
        under prefork or with --listen)."""
        wanted = list(config.server.listen)
        if list(getattr(self.server, "_listen", ())) == wanted:
            log.info("listen changed: now listening on %s", ", ".join(self.server.addresses))
        else:
            log.warning(
                "listen changed to %s in %s: restart gateway to apply it",
                ", ".join(wanted),
                self.name,
            )

    def _block(self, issues: Sequence[ConfigIssue]) -> str:
        """The issues indented under the failure line: a module broken for several routes
        once, with its source line, for the terminal and the browser overlay alike."""
        root = self._basis.server.root
        return "\n".join("  " + text for text in format_issues(issues, root))
