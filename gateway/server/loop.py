"""The event loop: one selectors.DefaultSelector, a heap of timers, a coarse tick for
connection deadlines and the Date header, and a wake-up socketpair through which other
threads hand work to the loop. Only this thread touches sockets; others call
`call_soon_threadsafe`. `connect` opens client connections (to upstream servers)."""

from __future__ import annotations

import collections
import errno
import heapq
import itertools
import logging
import os
import selectors
import socket
import time
from collections.abc import Callable
from typing import Any

from gateway.server.sockets import SocketTransport
from gateway.server.transport import Protocol

log = logging.getLogger("gateway.server")

Callback = Callable[[], None]
# A batch of more events than this runs the callbacks other threads handed over (pooled
# handlers' answers) after every this many events, not only after the whole batch: a
# result that came back during a 64-connection turn is sent in that turn (the pooled p99).
EVENTS_PER_HANDOVER = 8
ReadyHandler = Callable[[int], None]
Address = tuple[str, int] | str  # (host, port) for TCP, a path for a unix socket


class TimerHandle:
    """A call_later callback; cancel() before it runs and it never does."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callback) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = _nothing  # drop references now, not when the timer comes due


class Loop:
    """`selector` keys carry their handler in `data`: the loop calls `key.data(mask)`.
    `now` is monotonic time read once per iteration, so hot paths need no clock call."""

    def __init__(self) -> None:
        self.selector: selectors.BaseSelector = selectors.DefaultSelector()
        self.now = time.monotonic()
        self.running = False
        self._ready: collections.deque[Callback] = collections.deque()
        # call_soon_threadsafe's callbacks: run within a long batch (see EVENTS_PER_HANDOVER)
        # and after each batch, before those of call_soon.
        self._handed: collections.deque[Callback] = collections.deque()
        # One periodic callback (the server's deadline sweep and Date update), run about
        # every `tick_interval` seconds; the owner may change the interval at any time.
        self.tick: Callback = _nothing
        self.tick_interval = 1.0
        self.after_batch: list[Callback] = []  # run after each batch of events (log flush)
        self._next_tick = 0.0
        self._timers: list[tuple[float, int, TimerHandle]] = []  # a heap, by due time
        self._timer_seq = itertools.count()
        self.send_calls = 0  # socket sends of output (tests check coalescing)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # A plain bool, not threading.Event: assignments are atomic under the GIL, and a
        # signal handler may call call_soon_threadsafe while this thread is inside it
        # (an Event's lock is not re-entrant and would deadlock there).
        self._woken = False
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)

    def call_soon(self, callback: Callback) -> None:
        """Run `callback` on this loop after the current batch of events (loop thread)."""
        self._ready.append(callback)

    def call_later(self, delay: float, callback: Callback) -> TimerHandle:
        """Run `callback` about `delay` seconds from now (loop thread); cancellable."""
        handle = TimerHandle(self.now + max(0.0, delay), callback)
        heapq.heappush(self._timers, (handle.when, next(self._timer_seq), handle))
        return handle

    def connect(
        self,
        address: Address,
        protocol_factory: Callable[[], Protocol],
        extra: dict[str, Any] | None = None,
    ) -> SocketTransport:
        """Open a client connection without blocking: TCP to (host, port), where host is
        an IP address or a name (resolved with getaddrinfo, which may block: resolve once,
        up front), or a unix socket at a path. protocol.connection_made(transport) follows
        when it is up, connection_lost(exc) when it fails; writes before that are queued."""
        if isinstance(address, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: Any = address
        else:
            host, port = address
            family, kind, proto, _, target = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )[0]
            sock = socket.socket(family, kind, proto)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        protocol = protocol_factory()
        err = sock.connect_ex(target)
        transport = SocketTransport(self, sock, protocol, extra, connecting=True)
        if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
            transport.fail(OSError(err, f"cannot connect to {address!r}: {os.strerror(err)}"))
        return transport

    def call_soon_threadsafe(self, callback: Callback) -> None:
        """Run `callback` on the loop thread soon; safe from any thread. It may run between
        two events of a long batch (never inside one's handler)."""
        self._handed.append(callback)
        if not self._woken:
            self._woken = True
            try:  # noqa: SIM105 (suppress() costs more on this path, run per pooled request)
                self._wake_w.send(b"\0")
            except OSError:
                pass  # the pipe is full (so the loop will wake anyway) or closed at shutdown

    def wakeup_fd(self) -> int:
        """The wake-up socket's sending end, for signal.set_wakeup_fd: a signal caught on
        any thread then ends the main thread's select at once."""
        return self._wake_w.fileno()

    def _on_wake(self, mask: int) -> None:
        # Drain first, then clear: cleared first, a thread could set the flag and send its
        # byte, which the drain would then swallow, leaving the flag set with no byte to
        # wake the loop for the next callback (it would wait for the tick, up to a second).
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        self._woken = False

    def run(self, should_stop: Callable[[], bool]) -> None:
        self.running = True
        select = self.selector.select
        ready = self._ready
        handed = self._handed
        while not should_stop():
            due = self._next_tick
            if self._timers and self._timers[0][0] < due:
                due = self._timers[0][0]
            timeout = 0.0 if ready or handed else max(0.0, due - self.now)
            events = select(timeout)
            if len(events) > EVENTS_PER_HANDOVER:
                self._run_long(events)
            else:
                for key, mask in events:
                    try:
                        key.data(mask)
                    except Exception:
                        _contain(key.data)
            self.now = time.monotonic()
            if self._timers and self._timers[0][0] <= self.now:
                self._run_timers()
            if ready or handed:
                self.run_ready()
            for callback in self.after_batch:
                callback()
            if self.now >= self._next_tick:
                self._next_tick = self.now + self.tick_interval
                try:
                    self.tick()
                except Exception:
                    _contain(self.tick)
        self.running = False

    def _run_long(self, events: list[tuple[selectors.SelectorKey, int]]) -> None:
        """A long batch: between every EVENTS_PER_HANDOVER events, what other threads
        handed over meanwhile (a pooled answer goes out now, not after the batch)."""
        handed = self._handed
        for n, (key, mask) in enumerate(events, 1):
            try:
                key.data(mask)
            except Exception:
                _contain(key.data)
            if handed and not n % EVENTS_PER_HANDOVER:
                _run_all(handed)

    def run_ready(self) -> None:
        """Run the callbacks already scheduled (at shutdown, after the loop stopped):
        other threads' first, then the loop's own."""
        ready = self._ready
        handed = self._handed
        while ready or handed:
            _run_all(handed)
            _run_all(ready)

    def _run_timers(self) -> None:
        timers = self._timers
        now = self.now
        while timers and timers[0][0] <= now:
            handle = heapq.heappop(timers)[2]
            if not handle.cancelled:
                self._ready.append(handle.callback)

    def close(self) -> None:
        self.selector.unregister(self._wake_r)
        self._wake_r.close()
        self._wake_w.close()
        self.selector.close()


def _nothing() -> None:
    pass


def _run_all(callbacks: collections.deque[Callback]) -> None:
    """Run queued callbacks, and any they queue, until none is left; one that raises is
    logged and the rest still run."""
    while callbacks:
        callback = callbacks.popleft()
        try:
            callback()
        except Exception:
            _contain(callback)


def _contain(callback: Callable[..., object]) -> None:
    """A bug in one callback must not end the loop: log it, and close the connection the
    callback belongs to (its state can no longer be trusted); the loop goes on."""
    log.exception("unexpected error in the server loop; closing the connection involved")
    owner = getattr(callback, "__self__", callback)  # a bound method's, or a transport
    close = getattr(owner, "abort", None) or getattr(owner, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.exception("closing after an unexpected error failed")
