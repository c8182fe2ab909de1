"""Micro-benchmark of gateway.http: parse a typical browser GET on a keep-alive connection,
and write a typical response head, N times each; prints µs per request.

    .venv/bin/python bench/http_parse.py [N]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from gateway.http import fields
from gateway.http.events import NEED_DATA, PAUSED, EndOfMessage, RequestHead
from gateway.http.parser import RequestParser
from gateway.http.writer import ResponseWriter

REQUEST = (
    b"GET /assets/app.js?v=3 HTTP/1.1\r\n"
    b"Host: localhost:8000\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: */*\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Connection: keep-alive\r\n"
    b"Referer: http://localhost:8000/\r\n"
    b"Sec-Fetch-Dest: script\r\n"
    b"Sec-Fetch-Mode: no-cors\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b'If-None-Match: "5d8c72a5edda8"\r\n'
    b"\r\n"
)
RESPONSE_HEADERS = [
    ("content-type", "text/javascript; charset=utf-8"),
    ("etag", '"5d8c72a5edda9"'),
    ("last-modified", "Tue, 04 Jun 2024 10:00:00 GMT"),
    ("cache-control", "public, max-age=31536000, immutable"),
]


def bench_parser(n: int) -> float:
    """What the server loop does per keep-alive request: feed, read the head, the end,
    PAUSED, then start_next once the response is queued."""
    parser = RequestParser()
    start = time.perf_counter()
    for _ in range(n):
        parser.feed(REQUEST)
        head = parser.next_event()
        end = parser.next_event()
        paused = parser.next_event()
        parser.start_next()
    elapsed = time.perf_counter() - start
    assert isinstance(head, RequestHead) and isinstance(end, EndOfMessage)
    assert paused is PAUSED and parser.next_event() is NEED_DATA
    return elapsed / n * 1e6


def bench_writer(n: int) -> float:
    writer = ResponseWriter()
    writer.set_date(time.time())
    start = time.perf_counter()
    for _ in range(n):
        writer.head(200, RESPONSE_HEADERS, content_length=48213, keep_alive=True)
    return (time.perf_counter() - start) / n * 1e6


def best_and_median(bench: Callable[[int], float], n: int, rounds: int = 20) -> str:
    """The machine is shared, so one long run measures the neighbours too: time `rounds`
    runs of n / rounds and give the best (what the code costs) and the median."""
    runs = sorted(bench(max(1, n // rounds)) for _ in range(rounds))
    return f"{runs[0]:6.2f} µs best, {statistics.median(runs):6.2f} µs median"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    bench_parser(1000)  # warm the name, line and host caches, as a running server has them
    print(f"parser       {best_and_median(bench_parser, n)} per request ({len(REQUEST)} bytes)")
    # As if every field line were new (cookies and ETags that change on every request):
    # the field-line cache switched off.
    fields._KNOWN_LINES.clear()
    fields._MAX_KNOWN_LINES = 0
    print(f"  uncached   {best_and_median(bench_parser, n)} per request")
    print(f"writer.head  {best_and_median(bench_writer, n)} per response (4 headers)")


if __name__ == "__main__":
    main()
