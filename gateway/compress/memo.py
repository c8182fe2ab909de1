"""Compressed bodies kept by content: a `respond` route's fixed body, or a handler answering
the same bytes again (a page kept in memory), is compressed once per coding and level; equal
input compresses to equal output, so a kept result is what compressing again would give."""

from __future__ import annotations

import threading
from collections import OrderedDict

from gateway.compress.codecs import compress_body

Key = tuple[str, int, int, int]  # coding, level, length, hash of the body

# Kept originals plus their compressed forms, per process; the least recently used go first.
BUDGET = 8 * 1024 * 1024
# Bodies seen once are only remembered by key: a body kept is one seen twice, so handlers
# that answer something new each time (most JSON) cost a hash, never memory.
SEEN_KEYS = 1024


class CompressedBodies:
    """compress(coding, level, body) -> bytes, from memory when this body (by value, checked
    byte for byte) was compressed before. Safe from any thread (pool threads, the async
    loop and the server loop all compress)."""

    def __init__(self, budget: int = BUDGET, seen_keys: int = SEEN_KEYS) -> None:
        self.budget = budget
        self.seen_keys = seen_keys
        self.size = 0
        self.hits = 0
        self._kept: OrderedDict[Key, tuple[bytes, bytes]] = OrderedDict()
        self._seen: OrderedDict[Key, None] = OrderedDict()
        self._lock = threading.Lock()

    def compress(self, coding: str, level: int, body: bytes) -> bytes:
        key = (coding, level, len(body), hash(body))  # a bytes object caches its hash
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
        if kept is not None and (kept[0] is body or kept[0] == body):
            self.hits += 1
            return kept[1]
        encoded = compress_body(coding, body, level)
        self._remember(key, body, encoded)
        return encoded

    def _remember(self, key: Key, body: bytes, encoded: bytes) -> None:
        cost = len(body) + len(encoded)
        if cost > self.budget // 4:
            return  # one body must not flush the rest
        with self._lock:
            if key not in self._seen:
                self._seen[key] = None
                if len(self._seen) > self.seen_keys:
                    self._seen.popitem(last=False)
                return
            old = self._kept.pop(key, None)
            if old is not None:  # a hash collision with another body: the newer wins
                self.size -= len(old[0]) + len(old[1])
            self._kept[key] = (body, encoded)
            self.size += cost
            while self.size > self.budget:
                _, (gone, gone_encoded) = self._kept.popitem(last=False)
                self.size -= len(gone) + len(gone_encoded)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._seen.clear()
            self.size = 0


MEMO = CompressedBodies()  # the process's one: bodies are shared across routes and reloads
