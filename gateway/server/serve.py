"""Server: the listeners, the live connections, the handler pool and the current app of
one process, driven by one Loop. It accepts, sweeps deadlines, swaps in reloaded apps
between requests, and shuts down gracefully. Only the loop thread calls its methods,
except `request_shutdown` and `call_soon_threadsafe`, which any thread may call."""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import selectors
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway import wsroute
from gateway.http.parser import known_heads
from gateway.http.writer import ResponseWriter
from gateway.log import AccessLog
from gateway.logfiles import ErrorLog
from gateway.metrics import Ops, SharedDir
from gateway.proxy.runtime import Upstreams
from gateway.server.context import ConnContext
from gateway.server.http1 import HttpProtocol
from gateway.server.listeners import address_of, bind
from gateway.server.loop import Loop
from gateway.server.pool import HandlerPool
from gateway.server.responses import ResponseCache
from gateway.server.sockets import SocketTransport
from gateway.server.transport import Protocol
from gateway.server.uploads import body_limits

if TYPE_CHECKING:
    from gateway.app import App
    from gateway.config.schema import TimeoutsSpec

log = logging.getLogger("gateway.server")

ACCEPT_PAUSE = 0.5  # after EMFILE, wait this long before accepting again
# Open connections past which an idle one gives its parser back after every request (a
# little work per request, for 350 bytes less per idle connection: see http1.py).
CROWDED = 512
# sys.setswitchinterval while handler calls are on the pool. A pool thread that wants the
# GIL waits this long for the loop's turn (up to 64 requests, ~1 ms) to give it up; at the
# default 5 ms the handlers of a batch waited for the whole turn and came back together,
# the next turn twice as long: the pooled p99 (see docs/benchmarks.md, inline4).
POOL_SWITCH_INTERVAL = 0.001
MAX_HOSTS = 4096  # client host strings kept for sharing (emptied when full)
_OUT_OF_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))
# accept(2) on Linux: errors of the pending connection itself, to be treated like EAGAIN.
_CONNECTION_GONE = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNABORTED",
        "EPROTO",
        "ENETDOWN",
        "ENOPROTOOPT",
        "EHOSTDOWN",
        "ENONET",
        "EHOSTUNREACH",
        "EOPNOTSUPP",
        "ENETUNREACH",
        "EPERM",
    )
    if hasattr(errno, name)
)


class Server:
    """One process's server: its listeners, connections, pool and current app."""

    def __init__(
        self,
        app: App,
        *,
        listen: list[str] | None = None,
        reuse_port: bool = False,
        metrics_dir: SharedDir | None = None,
    ) -> None:
        self.app = app
        spec = app.config.server
        self.loop = Loop()
        self.writer = ResponseWriter()
        self.writer.set_date(time.time())
        self.pool = HandlerPool(self.loop, spec.handler_threads, spec.handler_queue)
        self.access_log = AccessLog(spec.access_log, path=spec.access_log_path)
        self.error_log = ErrorLog()
        self.error_log.set_path(spec.error_log_path)
        self.loop.after_batch.append(self.access_log.flush)
        self._switch_interval = sys.getswitchinterval()  # restored at the end
        self._pool_busy = False  # the switch interval is POOL_SWITCH_INTERVAL
        self._pool_seen = False  # a pool call was pending since the last tick
        self.loop.after_batch.append(self._pace_pool)
        self.conns: set[HttpProtocol] = set()
        self.listeners: dict[str, socket.socket] = {}
        self.shutting_down = False
        # run on the loop when shutdown begins; WebSockets are told 1001 "going away"
        self.on_shutdown: list[Callable[[], None]] = [self._websockets_going_away]
        self.on_workers_changed: Callable[[], None] | None = None  # set in prefork workers
        # At shutdown, an idle keep-alive connection is closed once it has been idle this
        # long (0: at once). A client may be sending on it as it closes; an upgrade (SIGUSR2)
        # sets it so that busy clients get their next answer with `connection: close` instead.
        self.drain_idle_after = 0.0
        # A layer between the socket and HTTP (TLS): given the listener's address as bound
        # and the connection's HttpProtocol, the protocol the socket transport drives.
        self.wrap_protocol: Callable[[str, HttpProtocol], Protocol] | None = None
        self.extra_listen: list[str] = []  # bound beside the listen addresses ([tls] listen)
        self.on_swap: list[Callable[[App, App], None]] = []  # (old, new) after swap_app
        self._shutdown_deadline = 0.0
        self._accept_paused_until = 0.0
        self._pause_reason = ""
        self._reuse_port = reuse_port
        self._hosts: dict[str, str] = {}  # client host strings, shared (see _accept)
        self._adopted = False  # serving sockets handed over (LISTEN_FDS): never rebind them
        self.ops = Ops(spec, metrics_dir)
        self.ops.set_sampler(self._gauges)
        self._listen = list(listen or spec.listen)
        self._ids = itertools.count(1)
        self._id_prefix = f"{os.getpid():x}-"
        self.ctx = ConnContext(
            app=app,
            loop=self.loop,
            pool=self.pool,
            writer=self.writer,
            access_log=self.access_log,
            timeouts=spec.timeouts,
            parser_limits={},
            next_request_id=self.next_request_id,
            forget=self.conns.discard,
            ops=self.ops,
        )
        self.ctx.upstreams = Upstreams(self.loop)
        self.ctx.responses = ResponseCache(self.writer)
        self._serve_responses(app)
        self._apply_limits(app)
        self.loop.tick = self._tick

    @property
    def send_calls(self) -> int:
        """Socket sends of output so far (tests check that answers coalesce)."""
        return self.loop.send_calls

    # -- configuration that follows the app ----------------------------------------------

    def _serve_responses(self, app: App) -> None:
        """The response cache starts afresh with each app. Its hits are counted into
        `self.ops` (configured for `app` before this is called) and logged by a common or
        combined access log (HttpProtocol._send_cached); a json log, whose lines name each
        request's id, turns it off."""
        if self.ctx.responses is not None:
            log = self.access_log
            self.ctx.responses.serve_app(app, log.enabled and not log.logs_hits, self.ops)

    def _apply_limits(self, app: App) -> None:
        spec = app.config.server
        self.timeouts: TimeoutsSpec = spec.timeouts
        # Routes with a max_body_bytes of their own: the parser takes the largest of all,
        # and each connection holds a body to its route's (ctx.body_limits, uploads.py).
        route_limits = body_limits(app.config.routes)
        self.parser_limits = {
            "max_header_bytes": spec.max_header_bytes,
            "max_headers": spec.max_headers,
            "max_body_bytes": max([spec.max_body_bytes, *route_limits.values()]),
        }
        self.ctx.body_limits = route_limits or None
        self.max_connections = spec.max_connections
        self.ctx.app = app
        if self.ctx.upstreams is not None:  # keeps unchanged upstreams' pools and health
            self.ctx.upstreams.update(app.upstream_specs)
        self.ctx.set_timeouts(spec.timeouts)
        self.ctx.parser_limits = self.parser_limits
        if self.ctx.responses is not None:  # a whole head seen before: answered at rest
            self.ctx.responses.heads = known_heads(self.parser_limits)
        self.ctx.parsers = []  # made under the old limits
        self.ctx.bodies.limit = spec.body_budget
        self.ctx.request_id_header = spec.request_id_header
        self.loop.tick_interval = self._tick_interval(spec.timeouts)

    @staticmethod
    def _tick_interval(timeouts: TimeoutsSpec) -> float:
        shortest = min(
            timeouts.header, timeouts.body, timeouts.idle, timeouts.write, timeouts.handler
        )
        return max(0.01, min(1.0, shortest / 4))

    def swap_app(self, app: App) -> None:
        """Serve `app` from the next request on; requests already dispatched finish on
        the app they started with. Opens new listeners before closing old ones."""
        old = self.app
        self.app = app
        old.close()  # responses still streaming from its files keep their fds until done
        wsroute.reloaded(self.loop)  # WebSockets whose handler's file changed reconnect
        self._apply_limits(app)
        self.ops.configure(app.config.server)
        self.access_log.set_format(app.config.server.access_log)
        self.access_log.set_path(app.config.server.access_log_path)
        self.error_log.set_path(app.config.server.error_log_path)
        self._serve_responses(app)
        if not self._adopted and tuple(app.config.server.listen) != tuple(old.config.server.listen):
            self.listen(list(app.config.server.listen))
        if app.config.server.workers != old.config.server.workers and self.on_workers_changed:
            self.on_workers_changed()  # a prefork worker: the master resizes the pool
        elif app.config.server.workers != old.config.server.workers:
            log.warning(
                "workers changed to %d: restart gateway to apply it", app.config.server.workers
            )
        for callback in self.on_swap:
            callback(old, app)

    # -- listening ------------------------------------------------------------------------

    def listen(self, addresses: list[str] | None = None) -> list[str]:
        """Bind every address (and extra_listen) not bound yet, then close those no longer
        wanted. Returns the bound addresses with real ports, extra_listen's last."""
        wanted = addresses if addresses is not None else self._listen
        opened: dict[str, socket.socket] = {}
        for address in [*wanted, *(a for a in self.extra_listen if a not in wanted)]:
            if address in self.listeners:
                opened[address] = self.listeners.pop(address)
                continue
            sock = bind(address, reuse_port=self._reuse_port)
            if not self._accept_paused_until:  # else _resume_accepting registers it
                self.loop.selector.register(sock, selectors.EVENT_READ, self._make_acceptor(sock))
            opened[address] = sock
        for sock in self.listeners.values():
            self._close_listener(sock)
        self.listeners = opened
        self._listen = list(wanted)
        return self.addresses

    def adopt(self, socks: list[socket.socket]) -> list[str]:
        """Serve listening sockets handed over (socket activation, an upgrade) instead of
        binding; `listen` in a reloaded config is then ignored: their owner chose the ports."""
        for sock in socks:
            sock.setblocking(False)
            self.listeners[address_of(sock)] = sock
            self.loop.selector.register(sock, selectors.EVENT_READ, self._make_acceptor(sock))
        self._listen = list(self.listeners)
        self._adopted = True
        return self.addresses

    @property
    def addresses(self) -> list[str]:
        return [address_of(sock) for sock in self.listeners.values()]

    def _close_listener(self, sock: socket.socket) -> None:  # registered or paused
        with contextlib.suppress(KeyError, ValueError):
            self.loop.selector.unregister(sock)
        sock.close()

    def _make_acceptor(self, listener: socket.socket) -> Callable[[int], None]:
        def on_acceptable(mask: int) -> None:
            self._accept(listener)

        return on_acceptable

    def _accept(self, listener: socket.socket) -> None:
        hosts = self._hosts
        if len(hosts) >= MAX_HOSTS:
            hosts.clear()  # bounded: clients choose these
        while len(self.conns) + wsroute.live_count(self.loop) < self.max_connections:
            try:
                sock, addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    self._pause_accepting(f"out of file descriptors ({exc.strerror})")
                    return
                if exc.errno in _CONNECTION_GONE:
                    continue  # accept(2): that connection failed; the next may not
                raise
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # (an IPv6 address comes as a 4-tuple; the client is its host and port). The
            # host string is shared by the connections of one client (58 bytes each).
            host = hosts.setdefault(addr[0], addr[0])
            protocol = HttpProtocol(self.ctx, (host, addr[1]))
            outer: Protocol = protocol
            if self.wrap_protocol is not None:
                outer = self.wrap_protocol(address_of(listener), protocol)
            SocketTransport(self.loop, sock, outer)  # peername: read from the socket if asked
            self.conns.add(protocol)
            self._pause_reason = ""
            if len(self.conns) > CROWDED:
                self.ctx.crowded = True  # (the tick sets it back)
        self._pause_accepting(f"connection limit {self.max_connections} reached")

    @property
    def accepting(self) -> bool:
        """False while accepting is paused (connection limit or out of fds) or stopped."""
        return not self._accept_paused_until and not self.shutting_down

    def _pause_accepting(self, why: str) -> None:
        if self._accept_paused_until:
            return
        if why != self._pause_reason:  # log once per cause, not every ACCEPT_PAUSE
            log.warning("not accepting new connections for now: %s", why)
            self._pause_reason = why
        self._accept_paused_until = self.loop.now + ACCEPT_PAUSE
        for sock in self.listeners.values():
            self.loop.selector.unregister(sock)

    def _resume_accepting(self) -> None:
        self._accept_paused_until = 0.0
        for sock in self.listeners.values():
            self.loop.selector.register(sock, selectors.EVENT_READ, self._make_acceptor(sock))

    # -- housekeeping ---------------------------------------------------------------------

    def next_request_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids):x}"

    def _gauges(self) -> dict[str, float]:
        pool = self.pool
        return {
            "open_connections": len(self.conns),
            "handler_queue": pool.waiting,
            "handler_busy": pool.pending - pool.waiting,
            "handler_threads": pool.size,
        }

    def _tick(self) -> None:
        now = self.loop.now
        self.ctx.crowded = len(self.conns) > CROWDED
        self.ops.tick(now)
        self.writer.set_date(time.time())
        self._unpace_pool()
        if (
            self._accept_paused_until
            and now >= self._accept_paused_until
            and not self.shutting_down
        ):
            self._resume_accepting()
        if self.shutting_down and self.drain_idle_after:
            self._close_idle()
        upstreams = self.ctx.upstreams
        if upstreams is not None and upstreams.live:
            upstreams.sweep(now)
        for conn in [c for c in self.conns if c.deadline <= now]:
            try:
                conn.on_timeout()
            except Exception:  # one connection's bug must not stop the sweep
                log.exception("timing out a connection failed; closing it")
                conn.close()

    def _pace_pool(self) -> None:
        """After each loop turn: while pool threads have calls, a shorter switch interval
        (POOL_SWITCH_INTERVAL); the tick gives the process's own back once a whole tick
        went by without one (set at the first busy turn, it then covers the turns that
        submit a batch: it must be in place before those, not after them)."""
        if self.pool.pending:
            self._pool_seen = True
            if not self._pool_busy:
                self._pool_busy = True
                sys.setswitchinterval(POOL_SWITCH_INTERVAL)

    def _unpace_pool(self, end: bool = False) -> None:
        """From the tick: no pool call since the last one: the process's own interval
        again. At the server's `end`, whatever the pool did."""
        if self._pool_busy and (end or not self._pool_seen):
            self._pool_busy = False
            sys.setswitchinterval(self._switch_interval)
        self._pool_seen = False

    def reopen_logs(self) -> None:
        """SIGUSR1 (on the loop): open the log files again by name, after a rotation."""
        for name, reopen in (("access", self.access_log.reopen), ("error", self.error_log.reopen)):
            try:
                reopen()
            except OSError as exc:
                log.error("cannot reopen the %s log: %s", name, exc.strerror or exc)

    def call_soon_threadsafe(self, callback: Callable[[], Any]) -> None:
        self.loop.call_soon_threadsafe(callback)

    # -- running and stopping -------------------------------------------------------------

    def serve_forever(self) -> None:
        if not self.listeners:
            self.listen()
        try:
            self.loop.run(self._should_stop)
        finally:
            self._close_everything()

    def request_shutdown(self) -> None:
        """Begin a graceful shutdown; safe from any thread and from signal handlers."""
        self.loop.call_soon_threadsafe(self._begin_shutdown)

    def _begin_shutdown(self) -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        self.ctx.shutting_down = True
        self.ops.draining = True
        for callback in self.on_shutdown:
            callback()
        self._shutdown_deadline = self.loop.now + self.app.config.server.timeouts.shutdown
        for sock in list(self.listeners.values()):
            self._close_listener(sock)
        self.listeners.clear()
        # Busy connections finish their request; send_response then closes them,
        # since keep-alive is off while shutting down.
        self._close_idle()

    def _close_idle(self) -> None:
        quiet_since = self.loop.now - self.drain_idle_after
        for conn in list(self.conns):
            if conn.idle and (
                not self.drain_idle_after or conn.transport.progress_at <= quiet_since
            ):
                conn.close()

    def _websockets_going_away(self) -> None:
        wsroute.going_away(self.loop)

    @property
    def shutdown_deadline(self) -> float:
        """When (time.monotonic) a shutdown stops waiting for work: now if none began."""
        return self._shutdown_deadline if self.shutting_down else time.monotonic()

    def _should_stop(self) -> bool:
        if not self.shutting_down:
            return False
        return not self.conns or self.loop.now >= self._shutdown_deadline

    def _close_everything(self) -> None:
        for conn in list(self.conns):
            conn.close()
        self.loop.run_ready()  # the connection_lost calls those closes scheduled
        for sock in self.listeners.values():
            self._close_listener(sock)
        self.listeners.clear()
        self.pool.shutdown()
        self._unpace_pool(end=True)
        self.ops.close()
        if self.ctx.upstreams is not None:
            self.ctx.upstreams.close()
        self.app.close()
        self.access_log.flush()
        self.access_log.set_path(None)  # closes the file
        self.error_log.set_path(None)
        self.loop.close()
