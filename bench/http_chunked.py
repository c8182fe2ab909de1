"""Micro-benchmark of chunked request-body decoding: CPU seconds to parse 4 MiB of body
sent as 1-byte chunks, as mixed 1-3-byte chunks, and as 4 KiB chunks, fed in 64 KiB reads
the way the server receives them. Prints a small table.

    .venv/bin/python bench/http_chunked.py
    PYTHONPATH=/path/to/other/checkout .venv/bin/python bench/http_chunked.py   # before/after
"""

from __future__ import annotations

import random
import time

import gateway
from gateway.http.events import NEED_DATA, Data, EndOfMessage
from gateway.http.parser import RequestParser

BODY = 4 * 1024 * 1024
HEAD = b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
RECV = 65536


def uniform(size: int) -> list[int]:
    return [size] * (BODY // size)


def mixed(seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    sizes: list[int] = []
    total = 0
    while total < BODY:
        size = min(rng.randint(1, 3), BODY - total)
        sizes.append(size)
        total += size
    return sizes


def wire(sizes: list[int]) -> bytes:
    chunks = [b"%x\r\n%s\r\n" % (size, b"x" * size) for size in sizes]
    return HEAD + b"".join(chunks) + b"0\r\n\r\n"


def cpu_seconds(raw: bytes, recv: int = RECV) -> tuple[float, float]:
    """(CPU seconds for the whole body, wall ms of the longest next_event() call)."""
    parser = RequestParser(max_body_bytes=BODY)
    got = 0
    longest = 0.0
    clock = time.perf_counter
    start = time.process_time()
    for i in range(0, len(raw), recv):
        parser.feed(raw[i : i + recv])
        while True:
            before = clock()
            event = parser.next_event()
            longest = max(longest, clock() - before)
            if event is NEED_DATA:
                break
            if isinstance(event, Data):
                got += len(event.data)
            elif isinstance(event, EndOfMessage):
                break
    elapsed = time.process_time() - start
    assert got == BODY, got
    return elapsed, longest * 1000


def main() -> None:
    print(f"gateway from {gateway.__file__}")
    print(
        f"{'chunks':<18} {'count':>9} {'wire MB':>8} {'cpu s':>7} {'ns/wire B':>10}"
        f" {'longest call ms (64 KiB reads / all at once)':>45}"
    )
    for name, sizes in (
        ("1 byte", uniform(1)),
        ("1-3 bytes, mixed", mixed()),
        ("4 KiB", uniform(4096)),
    ):
        raw = wire(sizes)
        best, longest = min(cpu_seconds(raw) for _ in range(3))
        _, longest_whole = cpu_seconds(raw, recv=len(raw))
        per_byte = best / len(raw) * 1e9
        print(
            f"{name:<18} {len(sizes):>9} {len(raw) / 1e6:>8.1f} {best:>7.3f} {per_byte:>10.1f}"
            f" {longest:>30.1f} / {longest_whole:.1f}"
        )


if __name__ == "__main__":
    main()
