"""Zero-copy relay of a known number of bytes from one socket to another: os.splice through
a pipe moves them kernel to kernel (Linux), with recv_into/send through one reused buffer
as the fallback. Non-blocking: step() moves what the sockets allow and says what it waits
for, so a loop can drive it from selector events."""

from __future__ import annotations

import contextlib
import enum
import fcntl
import os
import selectors
import socket
from collections.abc import Callable

HAS_SPLICE = hasattr(os, "splice")
SPLICE_MIN = 256 * 1024  # bodies smaller than this are not worth the pipe and extra calls
PIPE_SIZE = 1 << 20  # asked of F_SETPIPE_SZ; the kernel may give less
COPY_SIZE = 256 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class Want(enum.Enum):
    READ = "read"  # the source has no bytes now
    WRITE = "write"  # the destination takes no bytes now
    DONE = "done"  # `count` bytes delivered


class Relay:
    """Moves exactly `count` bytes from `src` to `dst` (both non-blocking stream sockets);
    bytes after them stay unread in `src`. `moved` counts bytes delivered to `dst`,
    `received` bytes taken from `src`. Raises EOFError when `src` ends early, OSError for
    socket errors; `broken` then says which side failed ("src" or "dst"). close() when done."""

    def __init__(
        self, src: socket.socket, dst: socket.socket, count: int, use_splice: bool = True
    ) -> None:
        self.src = src
        self.dst = dst
        self.count = count
        self.moved = 0
        self._read = 0  # taken from src (into the pipe or buffer)
        self.spliced = use_splice and HAS_SPLICE
        self._pipe: tuple[int, int] | None = None
        self._buffer: memoryview | None = None
        self._held = 0  # bytes in the pipe or buffer, not yet sent
        self._start = 0  # offset of the held bytes in the buffer
        self.broken = ""  # the side that failed: "src" (EOFError too) or "dst"
        if self.spliced:
            self._pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            # Over /proc/sys/fs/pipe-max-size this fails: the default 64 KiB pipe still works.
            with contextlib.suppress(OSError):
                fcntl.fcntl(self._pipe[1], _F_SETPIPE_SZ, PIPE_SIZE)
        else:
            self._buffer = memoryview(bytearray(COPY_SIZE))

    @property
    def received(self) -> int:
        return self._read

    def step(self) -> Want:
        """Move as much as possible now."""
        while True:
            if self._held:
                if not self._send():
                    return Want.WRITE
            elif self._read < self.count:
                if not self._receive():
                    return Want.READ
            else:
                return Want.DONE

    def _receive(self) -> bool:
        want = self.count - self._read
        try:
            if self._pipe is not None:
                n = os.splice(self.src.fileno(), self._pipe[1], min(want, PIPE_SIZE), flags=_FLAGS)
            else:
                assert self._buffer is not None
                n = self.src.recv_into(self._buffer[: min(want, COPY_SIZE)])
                self._start = 0
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self.broken = "src"
            raise
        if n == 0:
            self.broken = "src"
            raise EOFError(f"the source closed after {self._read} of {self.count} bytes")
        self._read += n
        self._held = n
        return True

    def _send(self) -> bool:
        try:
            if self._pipe is not None:
                n = os.splice(self._pipe[0], self.dst.fileno(), self._held, flags=_FLAGS)
            else:
                assert self._buffer is not None
                n = self.dst.send(self._buffer[self._start : self._start + self._held])
                self._start += n
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self.broken = "dst"
            raise
        self._held -= n
        self.moved += n
        return True

    def close(self) -> None:
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None
        self._buffer = None


_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)


class SpliceJob:
    """Runs a Relay on the loop's selector (whose keys carry their handler in `data`, as
    gateway.server.loop does): registers the socket the relay waits on, steps on readiness,
    and calls done(error) once: None when every byte arrived. The sockets must not be
    registered by their transports meanwhile (the transports hand them over and back).
    `on_step()`, if given, runs after each step that left the relay waiting (the caller
    moves its deadlines; it may cancel the job)."""

    def __init__(
        self,
        selector: selectors.BaseSelector,
        relay: Relay,
        done: Callable[[BaseException | None], None],
        on_step: Callable[[], None] | None = None,
    ) -> None:
        self.selector = selector
        self.relay = relay
        self.done = done
        self.on_step = on_step
        self._registered: socket.socket | None = None
        self.finished = False

    def start(self) -> None:
        self._step()

    @property
    def waiting_on(self) -> socket.socket | None:
        """The socket the relay waits for (its source to read, its destination to write)."""
        return self._registered

    def _on_ready(self, mask: int) -> None:
        self._step()

    def _step(self) -> None:
        try:
            want = self.relay.step()
        except (EOFError, OSError) as error:
            self._finish(error)
            return
        if want is Want.DONE:
            self._finish(None)
            return
        sock, event = (
            (self.relay.src, selectors.EVENT_READ)
            if want is Want.READ
            else (self.relay.dst, selectors.EVENT_WRITE)
        )
        if sock is not self._registered:
            self._unregister()
            self.selector.register(sock, event, self._on_ready)
            self._registered = sock
        if self.on_step is not None:
            self.on_step()

    def cancel(self) -> None:
        """Stop now (a connection closed, shutdown): done() is not called."""
        self.finished = True
        self._unregister()
        self.relay.close()

    def _unregister(self) -> None:
        if self._registered is not None:
            self.selector.unregister(self._registered)
            self._registered = None

    def _finish(self, error: BaseException | None) -> None:
        if self.finished:
            return
        self.finished = True
        self._unregister()
        self.relay.close()
        self.done(error)


def worth_splicing(content_length: int | None, *sockets: socket.socket | None) -> bool:
    """Whether a body should go by Relay: large, known length, and plain TCP both ways
    (a TLS transport has no socket to splice: its bytes must pass through the cipher)."""
    return (
        HAS_SPLICE
        and content_length is not None
        and content_length >= SPLICE_MIN
        and all(
            sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX)
            for sock in sockets
        )
    )
