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


def cpu_seconds(raw: bytes) -> float:
    parser = RequestParser(max_body_bytes=BODY)
    got = 0
    start = time.process_time()
    for i in range(0, len(raw), RECV):
        parser.feed(raw[i : i + RECV])
        while (event := parser.next_event()) is not NEED_DATA:
            if isinstance(event, Data):
                got += len(event.data)
            elif isinstance(event, EndOfMessage):
                break
    elapsed = time.process_time() - start
    assert got == BODY, got
    return elapsed


def main() -> None:
    print(f"gateway from {gateway.__file__}")
    print(f"{'chunks':<22} {'count':>9} {'wire MB':>8} {'cpu s':>8} {'ns/wire byte':>13}")
    for name, sizes in (
        ("1 byte", uniform(1)),
        ("1-3 bytes, mixed", mixed()),
        ("4 KiB", uniform(4096)),
    ):
        raw = wire(sizes)
        best = min(cpu_seconds(raw) for _ in range(3))
        per_byte = best / len(raw) * 1e9
        print(f"{name:<22} {len(sizes):>9} {len(raw) / 1e6:>8.1f} {best:>8.3f} {per_byte:>13.1f}")


if __name__ == "__main__":
    main()
