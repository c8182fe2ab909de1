"""VariantCache: one compression per file version, edits make a new one and drop the old,
the byte bound evicts, concurrent builds compress once, incompressible files are remembered."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gateway.compress import VariantCache, decompress_body, version_key

TEXT = b"body { color: red; }\n" * 400


@pytest.fixture
def cache():  # type: ignore[no-untyped-def]
    c = VariantCache()
    yield c
    c.close()
    assert not os.path.exists(c.directory)


def _key(path: Path):  # type: ignore[no-untyped-def]
    return version_key(str(path), os.stat(path))


def test_made_once_then_looked_up(tmp_path: Path, cache: VariantCache) -> None:
    path = tmp_path / "site.css"
    path.write_bytes(TEXT)
    key = _key(path)
    assert cache.lookup(key, "gzip") is None
    variant = cache.build(str(path), key, "gzip")
    assert variant is not None and variant.coding == "gzip"
    with open(variant.path, "rb") as f:
        data = f.read()
    assert len(data) == variant.size < len(TEXT) // 10
    assert decompress_body("gzip", data) == TEXT
    assert cache.lookup(key, "gzip") == variant
    assert cache.build(str(path), key, "gzip") == variant
    assert cache.builds == 1


def test_an_edit_makes_a_new_variant_and_drops_the_old(tmp_path: Path, cache: VariantCache) -> None:
    path = tmp_path / "app.js"
    path.write_bytes(TEXT)
    old = cache.build(str(path), _key(path), "gzip")
    assert old is not None
    path.write_bytes(TEXT + b"/* edited */\n" * 50)
    new_key = _key(path)
    assert cache.lookup(new_key, "gzip") is None
    new = cache.build(str(path), new_key, "gzip")
    assert new is not None and new.path != old.path
    assert not os.path.exists(old.path)
    with open(new.path, "rb") as f:
        assert decompress_body("gzip", f.read()).endswith(b"/* edited */\n")


def test_a_stale_key_is_not_built(tmp_path: Path, cache: VariantCache) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(TEXT)
    key = _key(path)
    path.write_bytes(TEXT * 2)  # changed between the stat and the build
    assert cache.build(str(path), key, "gzip") is None
    assert cache.lookup(key, "gzip") is None


def test_bounded_by_bytes_least_recent_first(tmp_path: Path) -> None:
    cache = VariantCache(max_bytes=1)  # every new variant pushes out the ones before
    try:
        keys = []
        for i in range(3):
            path = tmp_path / f"{i}.txt"
            path.write_bytes(TEXT + bytes([65 + i]))
            keys.append(_key(path))
            assert cache.build(str(path), keys[-1], "gzip") is not None
        assert cache.lookup(keys[0], "gzip") is None
        assert cache.lookup(keys[2], "gzip") is not None
        assert len(os.listdir(cache.directory)) == 1
    finally:
        cache.close()


def test_too_big_and_incompressible_files(tmp_path: Path) -> None:
    cache = VariantCache(max_file_bytes=1000)
    try:
        big = tmp_path / "big.txt"
        big.write_bytes(TEXT)
        assert cache.build(str(big), _key(big), "gzip") is None
        assert cache.builds == 0
        noise = tmp_path / "noise.bin"
        noise.write_bytes(os.urandom(900))
        assert cache.build(str(noise), _key(noise), "gzip") is None
        assert cache.known(_key(noise), "gzip")  # remembered: not compressed again
        assert cache.build(str(noise), _key(noise), "gzip") is None
        assert cache.builds == 1
    finally:
        cache.close()


def test_concurrent_builds_compress_once(tmp_path: Path, cache: VariantCache) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(TEXT * 20)
    key = _key(path)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.build(str(path), key, "gzip")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 4 and len(set(results)) == 1 and results[0] is not None
    assert cache.builds == 1


@pytest.mark.parametrize("coding", ["br", "zstd"])
def test_best_levels_for_optional_codings(tmp_path: Path, cache: VariantCache, coding: str) -> None:
    pytest.importorskip({"br": "brotli", "zstd": "zstandard"}[coding], reason="compress extra")
    path = tmp_path / "x.svg"
    path.write_bytes(TEXT)
    variant = cache.build(str(path), _key(path), coding)
    assert variant is not None
    with open(variant.path, "rb") as f:
        assert decompress_body(coding, f.read()) == TEXT


def test_get_or_schedule_builds_once_in_the_background(tmp_path: Path, cache: VariantCache) -> None:
    path = tmp_path / "index.html"
    path.write_bytes(TEXT)
    key = _key(path)
    queued: list = []
    assert cache.get_or_schedule(str(path), key, "gzip", queued.append) is None
    assert cache.get_or_schedule(str(path), key, "gzip", queued.append) is None
    assert len(queued) == 1  # asked twice, scheduled once
    queued[0]()  # the pool runs it
    variant = cache.get_or_schedule(str(path), key, "gzip", queued.append)
    assert variant is not None and variant.coding == "gzip" and len(queued) == 1
    big = VariantCache(max_file_bytes=10)
    try:
        assert big.get_or_schedule(str(path), key, "gzip", queued.append) is None
        assert len(queued) == 1  # too big: never scheduled
    finally:
        big.close()
