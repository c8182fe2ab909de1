"""The event loop: one selectors.DefaultSelector, a coarse tick for timeouts and the Date
header, and a wake-up socketpair through which other threads hand work to the loop.
Only this thread touches sockets; other threads call `call_soon_threadsafe`."""

from __future__ import annotations

import collections
import logging
import selectors
import socket
import time
from collections.abc import Callable

log = logging.getLogger("gateway.server")

Callback = Callable[[], None]
ReadyHandler = Callable[[int], None]


class Loop:
    """`selector` keys carry their handler in `data`: the loop calls `key.data(mask)`.
    `now` is monotonic time read once per iteration, so hot paths need no clock call."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.now = time.monotonic()
        self.running = False
        self._ready: collections.deque[Callback] = collections.deque()
        # One periodic callback (the server's deadline sweep and Date update), run about
        # every `tick_interval` seconds; the owner may change the interval at any time.
        self.tick: Callback = _nothing
        self.tick_interval = 1.0
        self.after_batch: list[Callback] = []  # run after each batch of events (log flush)
        self._next_tick = 0.0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # A plain bool, not threading.Event: assignments are atomic under the GIL, and a
        # signal handler may call call_soon_threadsafe while this thread is inside it
        # (an Event's lock is not re-entrant and would deadlock there).
        self._woken = False
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)

    def call_soon_threadsafe(self, callback: Callback) -> None:
        """Run `callback` on the loop thread soon; safe from any thread."""
        self._ready.append(callback)
        if not self._woken:
            self._woken = True
            try:  # noqa: SIM105 (suppress() costs more on this path, run per pooled request)
                self._wake_w.send(b"\0")
            except OSError:
                pass  # the pipe is full (so the loop will wake anyway) or closed at shutdown

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
        while not should_stop():
            timeout = max(0.0, self._next_tick - self.now)
            if ready:
                timeout = 0.0
            for key, mask in select(timeout):
                try:
                    key.data(mask)
                except Exception:
                    _contain(key.data)
            self.now = time.monotonic()
            while ready:
                callback = ready.popleft()
                try:
                    callback()
                except Exception:
                    _contain(callback)
            for callback in self.after_batch:
                callback()
            if self.now >= self._next_tick:
                self._next_tick = self.now + self.tick_interval
                try:
                    self.tick()
                except Exception:
                    _contain(self.tick)
        self.running = False

    def close(self) -> None:
        self.selector.unregister(self._wake_r)
        self._wake_r.close()
        self._wake_w.close()
        self.selector.close()


def _nothing() -> None:
    pass


def _contain(callback: Callable[..., object]) -> None:
    """A bug in one callback must not end the loop: log it, and close the connection the
    callback belongs to (its state can no longer be trusted); the loop goes on."""
    log.exception("unexpected error in the server loop; closing the connection involved")
    owner = getattr(callback, "__self__", None)
    close = getattr(owner, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.exception("closing after an unexpected error failed")
