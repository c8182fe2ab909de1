"""Running one server process: listen (or take the sockets a service manager handed over),
announce, start the reloader, install the signal handlers and serve until told to stop.
`gateway serve` and each prefork worker call serve_single."""

from __future__ import annotations

import gc
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from gateway import __version__
from gateway.activation import ActivationError, inherited_sockets
from gateway.aio.hooks import run_shutdown, run_startup
from gateway.aio.kinds import handler_kind
from gateway.app import App
from gateway.asynccall import runner, stop_runner
from gateway.metrics import SharedDir
from gateway.reload import Reloader
from gateway.server import leftover, signals
from gateway.server.serve import Server
from gateway.server.stopping import dev_modes, stop_on_signals

WORKERS_CHANGED = signal.SIGWINCH  # worker -> master: the config's `workers` changed


def serve_single(
    config_path: str,
    app: App,
    listen: list[str],
    reload: bool,
    reuse_port: bool = False,
    announce: bool = True,
    renew: bool = True,
    tls_listen: list[str] | None = None,
    tls_site: Any = None,
    metrics_dir: SharedDir | None = None,
    sockets: list[socket.socket] | None = None,
) -> int:
    """Serve `app` in this process until SIGINT/SIGTERM; the exit status. With [tls]:
    `renew` runs ACME renewals here; `tls_listen` are the TLS addresses a prefork master
    bound (default: [tls] listen); `tls_site` the TlsSite it built (default: build one).
    `sockets`: listening sockets to serve instead of binding `listen` (a prefork master's
    LISTEN_FDS ones)."""
    server = Server(app, listen=listen, reuse_port=reuse_port, metrics_dir=metrics_dir)
    tls = None
    if app.config.tls is not None:
        from gateway.tls.serving import BUILD_ERRORS, TlsServing, build_site

        try:
            site = tls_site if tls_site is not None else build_site(app.config)
            tls = TlsServing(server, site, renew, tls_listen)
        except BUILD_ERRORS as exc:
            print(f"gateway: [tls]: {exc}", file=sys.stderr)
            return 1
    try:
        handed = sockets if sockets is not None else [h.sock for h in inherited_sockets()]
    except ActivationError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1
    try:
        addresses = server.adopt(handed) if handed else server.listen(listen)
    except OSError as exc:
        wanted = ", ".join([*listen, *server.extra_listen])
        print(f"gateway: cannot listen on {wanted}: {exc.strerror}", file=sys.stderr)
        return 1
    if tls is not None:
        tls.bound(addresses[len(addresses) - len(server.extra_listen) :])
    predecessor = signals.tell_predecessor(server) if announce else None
    pid_file = signals.PidFile(app.config.server.pid_file) if app.config.server.pid_file else None
    if pid_file is not None and announce:  # under prefork the master owns it
        try:
            pid_file.write(predecessor)
        except OSError as exc:
            print(f"gateway: cannot write the pid file: {exc.strerror or exc}", file=sys.stderr)
            return 1
    # Without [dev] reload nothing is watched, but SIGHUP still rebuilds.
    if not announce:  # a prefork worker: its master applies a new `workers`
        server.on_workers_changed = lambda: os.kill(os.getppid(), WORKERS_CHANGED)
    reloader = start_reloader(config_path, server, watch=reload)
    signals.install(server, reloader, upgrade=announce)
    stop_on_signals(server)  # SIGINT/SIGTERM again, and the loop wakes for any signal at once
    timeout = app.config.server.timeouts.shutdown
    try:
        run_startup(app.startup, _runner_for(app.startup), app.config.server.timeouts.handler)
    except BaseException as exc:
        print(f"gateway: a startup hook failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        server.request_shutdown()
        server.serve_forever()  # closes the listeners
        return 1
    if announce:  # last: whoever waits for this line may signal us from now on
        for address in addresses:
            scheme = tls.scheme(address) if tls is not None else "http"
            print(
                f"gateway {__version__} serving {config_path} at {scheme}://{address}/ "
                f"({dev_modes(app.config.dev, reload)})",
                file=sys.stderr,
            )
    keep_frozen(server)
    try:
        server.serve_forever()
    finally:
        reloader.stop()
        if pid_file is not None and announce:
            pid_file.remove()
        run_shutdown(app.shutdown, _runner_for(app.shutdown), timeout)
        stop_runner(timeout)  # async handlers and hooks, if any ran
    left = leftover.stragglers(server.shutdown_deadline)
    if left:
        leftover.report(left)
    if announce:
        print("gateway stopped", file=sys.stderr)
    if left:  # threads a handler started would keep the process alive: not past shutdown
        leftover.exit_now(0)
    return 0


def _runner_for(hooks: list[Any]) -> Any:
    """The worker's async runner when a hook is async (it is started then), else None."""
    return runner() if any(handler_kind(hook) != "sync" for hook in hooks) else None


def start_reloader(config_path: str, server: Server, watch: bool = True) -> Reloader:
    """Rebuild and swap on SIGHUP; with `watch`, also on a change to the config, a handler
    module or a served file."""
    reloader = Reloader(Path(config_path), server, watch=watch)
    reloader.start()
    return reloader


def keep_frozen(server: Server) -> None:
    """What is alive now (modules, the app, its routes) mostly lives as long as the process:
    leave it out of the collector's full passes. Without this a gen-2 pass walked it all a
    few times a second under load, each stalling the loop ~7 ms: most of the p99
    (docs/benchmarks.md). Frozen objects are never collected, so after each app swap, once
    the old app's requests are over (they end by timeouts.handler), one full pass frees
    its cycles and what is left is frozen again: one pass per reload, off the hot path."""
    gc.freeze()

    def after_swap(old: object, new: object) -> None:
        server.loop.call_later(server.timeouts.handler + 1.0, _refreeze)

    server.on_swap.append(after_swap)


def _refreeze() -> None:
    gc.unfreeze()
    gc.collect()
    gc.freeze()
