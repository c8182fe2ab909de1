"""A request body while it arrives: its pieces so far, its data rate, its share of the
worker's body budget, and its spooling. A body larger than `[server] body_buffer_size` goes
to a temporary file as it arrives (nginx's client_body_buffer_size); the bytes of bodies
being received at once are bounded by `body_budget` (past it: 503); a body arriving slower
than `min_body_rate` bytes per second after `min_body_rate_grace` gets 408 (Kestrel's
MinRequestBodyDataRate). After a burst, freed memory is handed back to the system."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from gateway.errors import HTTPError

log = logging.getLogger("gateway.server")

READ_SIZE = 65536  # a spooled body is read back in pieces this big
TRIM_AFTER = 8 << 20  # bytes received since the last trim that make the next idle moment trim


class BodyBudget:
    """The bytes of request bodies one worker is receiving now (memory and temp files
    together); only the loop thread uses it."""

    __slots__ = ("held", "limit", "since_trim")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.since_trim = 0

    def take(self, n: int) -> bool:
        if self.held + n > self.limit:
            return False
        self.held += n
        self.since_trim += n
        return True

    def give(self, n: int) -> None:
        self.held -= n
        if not self.held and self.since_trim >= TRIM_AFTER:
            self.since_trim = 0
            trim_memory()  # the burst is over: return its pages to the system


class BodyReader:
    """The body of the request being read; made at its first byte, so a connection
    without a body in flight holds none."""

    __slots__ = ("budget", "chunks", "file", "size", "started")

    def __init__(self, started: float, budget: BodyBudget) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.started = started
        self.budget = budget
        self.file: IO[bytes] | None = None  # past body_buffer_size: the rest goes here

    def add(self, data: bytes, now: float, spec: Any) -> None:
        """Keep `data`: 503 past the worker's body budget, 408 when the body arrives too
        slowly; to a temporary file once it is over `spec.body_buffer_size`."""
        if not self.budget.take(len(data)):
            raise HTTPError(503, "server busy receiving other request bodies: try again shortly")
        self.size += len(data)
        if self.file is not None:
            self.file.write(data)
        elif self.size > spec.body_buffer_size:
            # Closed by SpooledBody.close, or drop(): it outlives this call by design.
            self.file = file = tempfile.TemporaryFile(prefix="gateway-body-")  # noqa: SIM115
            file.writelines(self.chunks)
            file.write(data)
            self.chunks = []
        else:
            self.chunks.append(data)
        check_rate(self.size, self.started, now, spec)

    def take(self) -> bytes | SpooledBody:
        """The whole body (it gives its share of the budget back): bytes, or the temp
        file it went to."""
        self.budget.give(self.size)
        if self.file is not None:
            body = SpooledBody(self.file, self.size)
            self.file = None
            return body
        chunks = self.chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def drop(self) -> None:
        """The body will not be used (an error, the client left)."""
        self.budget.give(self.size)
        self.size = 0
        self.chunks = []
        if self.file is not None:
            self.file.close()
            self.file = None


class SpooledBody:
    """A whole request body in a temporary file (unlinked: nothing is left on disk when
    it closes, or when the process dies)."""

    __slots__ = ("file", "size")

    def __init__(self, file: IO[bytes], size: int) -> None:
        self.file = file
        self.size = size

    def whole(self) -> bytes:
        self.file.seek(0)
        return self.file.read()

    def chunks(self) -> Iterator[bytes]:
        self.file.seek(0)
        while data := self.file.read(READ_SIZE):
            yield data

    def close(self) -> None:
        self.file.close()


def check_rate(size: int, started: float, now: float, spec: Any) -> None:
    """Raise 408 when `size` body bytes since `started` (the request's first byte) average
    under `spec.min_body_rate` once `spec.min_body_rate_grace` has passed: every body a
    connection takes (read whole, copied or spliced to a proxy) is held to it here."""
    rate = spec.min_body_rate
    elapsed = now - started
    if rate and elapsed > spec.min_body_rate_grace and size < rate * elapsed:
        raise too_slow(size, elapsed, rate)


def too_slow(size: int, elapsed: float, rate: int) -> HTTPError:
    return HTTPError(
        408,
        f"request body too slow: {size} bytes in {elapsed:.0f} s, "
        f"under the minimum of {rate} bytes per second",
    )


def _malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
        return None


_TRIM = _malloc_trim()


def trim_memory() -> None:
    """Give free heap pages back to the system (glibc's malloc_trim): without it the
    memory of a burst of uploads stays in the process after they are done."""
    if _TRIM is not None:
        _TRIM(0)
