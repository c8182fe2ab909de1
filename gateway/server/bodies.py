"""A request body while it arrives: its pieces so far, and its data rate. A body that arrives
slower than `[server] min_body_rate` bytes per second on average, once `min_body_rate_grace`
has passed since its request began, is refused with 408 (Kestrel's MinRequestBodyDataRate)."""

from __future__ import annotations

from gateway.errors import HTTPError


class BodyReader:
    """The body of the request being read; made at its first byte, so a connection
    without a body in flight holds none."""

    __slots__ = ("chunks", "size", "started")

    def __init__(self, started: float) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.started = started

    def add(self, data: bytes, now: float, rate: int, grace: float) -> None:
        """Keep `data`; raise 408 when the body is arriving too slowly."""
        self.chunks.append(data)
        self.size += len(data)
        elapsed = now - self.started
        if rate and elapsed > grace and self.size < rate * elapsed:
            raise too_slow(self.size, elapsed, rate)

    def take(self) -> bytes:
        chunks = self.chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_slow(size: int, elapsed: float, rate: int) -> HTTPError:
    return HTTPError(
        408,
        f"request body too slow: {size} bytes in {elapsed:.0f} s, "
        f"under the minimum of {rate} bytes per second",
    )
