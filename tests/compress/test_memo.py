"""The compressed-body memo: a body seen twice is compressed once per coding and level, a
kept result is used only for the same bytes, the budget bounds memory, and a respond route
is compressed at most twice through a real server, whatever heads ask for it."""

from __future__ import annotations

import zlib
from typing import Any

import httpx

from gateway.compress import memo
from gateway.compress.codecs import compress_body, decompress_body
from gateway.compress.memo import CompressedBodies

PAGE = b"<p>" + b"hello memo " * 2000 + b"</p>"


def test_a_body_is_kept_the_second_time_and_served_from_memory_after() -> None:
    bodies = CompressedBodies()
    first = bodies.compress("gzip", 5, PAGE)
    assert bodies.size == 0  # seen once: only its key is remembered
    second = bodies.compress("gzip", 5, PAGE)
    assert bodies.size == len(PAGE) + len(second)
    third = bodies.compress("gzip", 5, bytes(bytearray(PAGE)))  # equal bytes, another object
    assert first == second == third == compress_body("gzip", PAGE, 5)
    assert third is second and bodies.hits == 1
    assert decompress_body("gzip", third) == PAGE


def test_another_coding_level_or_body_is_compressed_anew() -> None:
    bodies = CompressedBodies()
    for _ in range(2):
        bodies.compress("gzip", 5, PAGE)
    assert zlib.decompress(bodies.compress("gzip", 1, PAGE), 16 + zlib.MAX_WBITS) == PAGE
    other = PAGE.replace(b"hello", b"HELLO")
    assert decompress_body("gzip", bodies.compress("gzip", 5, other)) == other
    assert bodies.hits == 0


def test_a_hash_collision_never_serves_another_body(monkeypatch: Any) -> None:
    bodies = CompressedBodies()
    monkeypatch.setattr(memo, "hash", lambda body: 7, raising=False)  # every body collides
    other = PAGE.replace(b"hello", b"jello")
    assert len(other) == len(PAGE)
    for _ in range(2):
        bodies.compress("gzip", 5, PAGE)
    assert decompress_body("gzip", bodies.compress("gzip", 5, other)) == other


def test_the_budget_bounds_what_is_kept() -> None:
    bodies = CompressedBodies(budget=4 * (len(PAGE) + 200))
    pages = [PAGE + str(i).encode() for i in range(6)]
    for page in pages:
        for _ in range(2):
            bodies.compress("gzip", 5, page)
    assert 0 < bodies.size <= bodies.budget
    big = CompressedBodies(budget=len(PAGE))  # a body over a quarter of the budget: never kept
    for _ in range(3):
        big.compress("gzip", 5, PAGE)
    assert big.size == 0


SITE = """
    [server]
    listen = ["127.0.0.1:0"]
    access_log = "off"

    [[route]]
    path = "/page"
    respond = { status = 200, body = "PAGE", content_type = "text/html" }
"""


def test_a_respond_route_is_compressed_once(site: Any, monkeypatch: Any) -> None:
    """Heads that differ (the response cache keeps each apart) still share one compressed
    body: compressed at its first two sightings (a body is kept the second time), never
    after; an identical head is then the response cache's."""
    body = "<p>" + "fixed answer " * 3000 + "</p>"
    server = site(SITE.replace('"PAGE"', f'"{body}"'))
    memo.MEMO.clear()
    compressions = []
    real = memo.compress_body

    def compress(coding: str, data: bytes, level: int) -> bytes:
        compressions.append(coding)
        return real(coding, data, level)

    monkeypatch.setattr(memo, "compress_body", compress)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in [0, 1, 2, 3, 3, 3]:
            headers = {"accept-encoding": "gzip", "x-try": str(i)}
            got = client.get("/page", headers=headers)
            assert got.headers["content-encoding"] == "gzip"
            assert got.text == body  # httpx decodes it
    assert compressions == ["gzip", "gzip"]  # kept at the second, answered from memory after
