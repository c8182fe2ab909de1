"""OpenFiles: a small cache of open regular files for one mount, so a hot file costs no
open/readlink/fstat/close per request. An entry is trusted for `valid` seconds, then
re-checked with one stat of its path (device, inode, size, mtime, ctime); a changed file
is reopened. Entries are reference-counted: an fd is closed only when no response that
is still being sent uses it. Loop thread only (one per process), so no locks."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

MAX_ENTRIES = 1024


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class CachedFile:
    __slots__ = ("checked", "dead", "fd", "identity", "meta", "refs", "st")

    def __init__(self, fd: int, st: os.stat_result, now: float) -> None:
        self.fd = fd
        self.st = st
        self.identity = _identity(st)
        self.checked = now
        self.refs = 0
        self.dead = False
        self.meta: dict[Any, Any] = {}  # headers computed once per (name, coding, ...)

    def acquire(self) -> Callable[[], None]:
        """One more user of the fd; call the returned function exactly once when done."""
        self.refs += 1
        return self._release

    def _release(self) -> None:
        self.refs -= 1
        if self.dead and self.refs == 0:
            os.close(self.fd)

    def retire(self) -> None:
        if not self.dead:
            self.dead = True
            if self.refs == 0:
                os.close(self.fd)


class OpenFiles:
    def __init__(self, valid: float = 1.0, max_entries: int = MAX_ENTRIES) -> None:
        self.valid = valid
        self.max_entries = max_entries
        self._entries: dict[str, CachedFile] = {}

    def get(self, path: str) -> CachedFile | None:
        """The cached open file for `path` if it is still the same file."""
        entry = self._entries.get(path)
        if entry is None:
            return None
        now = time.monotonic()
        if now - entry.checked < self.valid:
            return entry
        try:
            same = _identity(os.stat(path)) == entry.identity
        except OSError:
            same = False
        if same:
            entry.checked = now
            return entry
        del self._entries[path]
        entry.retire()
        return None

    def put(self, path: str, fd: int, st: os.stat_result) -> CachedFile:
        """Keep `fd` (now owned by the cache) as the open file for `path`."""
        old = self._entries.pop(path, None)
        if old is not None:
            old.retire()
        if len(self._entries) >= self.max_entries:
            # Evict the oldest entry: insertion order is a cheap stand-in for LRU here.
            oldest = next(iter(self._entries))
            self._entries.pop(oldest).retire()
        entry = CachedFile(fd, st, time.monotonic())
        self._entries[path] = entry
        return entry

    def close(self) -> None:
        """Close every fd no response is using; the rest close when their response ends."""
        for entry in self._entries.values():
            entry.retire()
        self._entries.clear()
