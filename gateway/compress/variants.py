"""Compressed variants of static files, made once per file version and kept in a bounded
directory so they can then be sent like precompressed siblings (open + sendfile). A file
version is its (path, device, inode, size, mtime): an edit makes a new one and drops the old."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.compress.codecs import BEST_LEVELS, check_coding, compress_body

# A variant is kept only when it saves at least this share of the file: otherwise the
# identity file is as good and costs no second open.
MIN_SAVING = 0.05

VersionKey = tuple[str, int, int, int, int]  # path, st_dev, st_ino, st_size, st_mtime_ns


def version_key(path: str, st: os.stat_result) -> VersionKey:
    return (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class Variant:
    """One compressed copy: open `path` and send `size` bytes with Content-Encoding `coding`."""

    path: str
    size: int
    coding: str


# Remembered for a version that does not compress well, so it is not tried again.
_INCOMPRESSIBLE = Variant("", -1, "")


class VariantCache:
    """Variants of file versions, at most `max_bytes` on disk in total (least recently used
    go first), for files up to `max_file_bytes`. lookup() never blocks (the loop may call
    it); build() reads and compresses, so it belongs on a pool thread. Thread-safe; two
    builds of one variant at once make it once (the second waits for the first)."""

    def __init__(
        self,
        directory: str | None = None,
        max_bytes: int = 64 << 20,
        max_file_bytes: int = 8 << 20,
        levels: dict[str, int] | None = None,
    ) -> None:
        self._own_dir = directory is None
        self._pid = os.getpid()  # prefork workers inherit the cache: only this process owns it
        self.directory = directory or tempfile.mkdtemp(prefix="gateway-variants-")
        os.makedirs(self.directory, exist_ok=True)
        self.max_bytes = max_bytes
        self.max_file_bytes = max_file_bytes
        self.levels = dict(BEST_LEVELS, **(levels or {}))
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[VersionKey, str], Variant] = OrderedDict()
        self._current: dict[str, VersionKey] = {}  # path -> the version last seen
        self._building: dict[tuple[VersionKey, str], threading.Event] = {}
        self._scheduled: set[tuple[VersionKey, str]] = set()  # handed to a pool, not started
        self.total = 0  # bytes of variant files kept
        self.builds = 0  # variants compressed since start (what tests and metrics count)

    def lookup(self, key: VersionKey, coding: str) -> Variant | None:
        """The variant if it is made (None: not made yet, or not worth making)."""
        with self._lock:
            variant = self._entries.get((key, coding))
            if variant is None or variant is _INCOMPRESSIBLE:
                return None
            self._entries.move_to_end((key, coding))
            return variant

    def known(self, key: VersionKey, coding: str) -> bool:
        """Whether build() has already decided this variant (made, or not worth making)."""
        with self._lock:
            return (key, coding) in self._entries

    def get_or_schedule(
        self, path: str, key: VersionKey, coding: str, submit: Callable[[Callable[[], Any]], Any]
    ) -> Variant | None:
        """For the loop: the variant if made; otherwise have `submit` (a pool's) build it in
        the background, at most once, and answer None (send this request identity, or
        compressed on the fly). Later requests for this version get the variant. A
        `submit` that returns False (refused) leaves the variant to be scheduled again."""
        entry = (key, coding)
        with self._lock:
            variant = self._entries.get(entry)
            if variant is not None:
                if variant is _INCOMPRESSIBLE:
                    return None
                self._entries.move_to_end(entry)
                return variant
            if entry in self._building or entry in self._scheduled or key[3] > self.max_file_bytes:
                return None
            self._scheduled.add(entry)

        def run() -> None:
            try:
                self.build(path, key, coding)
            finally:
                with self._lock:
                    self._scheduled.discard(entry)

        if submit(run) is False:  # a full pool refused it: let a later request try again
            with self._lock:
                self._scheduled.discard(entry)
        return None

    def discard(self, key: VersionKey, coding: str) -> None:
        """Forget a variant whose file is gone (removed by hand, or by another worker that
        shares the directory), so the next request builds it again."""
        with self._lock:
            if (key, coding) in self._entries:
                self._drop((key, coding))

    def build(self, path: str, key: VersionKey, coding: str) -> Variant | None:
        """Make (or wait for, or find) the variant of `path` at version `key`. None when the
        file is too big, does not compress, or changed while it was read."""
        check_coding(coding)
        if key[3] > self.max_file_bytes:
            return None
        entry = (key, coding)
        while True:
            with self._lock:
                if entry in self._entries:
                    variant = self._entries[entry]
                    return None if variant is _INCOMPRESSIBLE else variant
                pending = self._building.get(entry)
                if pending is None:
                    pending = self._building[entry] = threading.Event()
                    break
            pending.wait()
        try:
            made = self._make(path, key, coding)
            self._store(entry, made)
            return None if made is None or made is _INCOMPRESSIBLE else made
        finally:
            with self._lock:
                del self._building[entry]
            pending.set()

    def _make(self, path: str, key: VersionKey, coding: str) -> Variant | None:
        data = _read_version(path, key)
        if data is None:
            return None
        encoded = compress_body(coding, data, self.levels[coding])
        self.builds += 1
        if len(encoded) > len(data) * (1 - MIN_SAVING):
            return _INCOMPRESSIBLE
        name = hashlib.sha256(repr(key).encode()).hexdigest()[:32] + "." + coding
        target = os.path.join(self.directory, name)
        os.makedirs(self.directory, exist_ok=True)  # removed under us: a build must not fail
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(encoded)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
        return Variant(target, len(encoded), coding)

    def _store(self, entry: tuple[VersionKey, str], variant: Variant | None) -> None:
        if variant is None:
            return
        key = entry[0]
        doomed: list[Variant] = []
        with self._lock:
            old = self._current.get(key[0])
            if old is not None and old != key:  # the file was edited: its variants are stale
                for stale in [e for e in self._entries if e[0] == old]:
                    doomed.append(self._drop(stale))
            self._current[key[0]] = key
            self._entries[entry] = variant
            self.total += max(variant.size, 0)
            while self.total > self.max_bytes and len(self._entries) > 1:
                doomed.append(self._drop(next(iter(self._entries))))
        for gone in doomed:
            _unlink(gone.path)  # an fd already open on it stays valid (POSIX)

    def _drop(self, entry: tuple[VersionKey, str]) -> Variant:
        variant = self._entries.pop(entry)
        self.total -= max(variant.size, 0)
        return variant

    def close(self) -> None:
        """Forget every variant and remove their files (the directory too if it was ours).
        In a process forked after the cache was made (a prefork worker), only forget: the
        files and the directory are shared with the other workers."""
        with self._lock:
            variants = list(self._entries.values())
            self._entries.clear()
            self._current.clear()
            self.total = 0
        if os.getpid() != self._pid:
            return
        for variant in variants:
            _unlink(variant.path)
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)


def _read_version(path: str, key: VersionKey) -> bytes | None:
    """The file's bytes if it is still version `key` before and after the read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if version_key(path, os.fstat(fd)) != key:
            return None
        chunks = []
        offset = 0
        while offset < key[3]:
            chunk = os.pread(fd, min(1 << 20, key[3] - offset), offset)
            if not chunk:
                return None
            chunks.append(chunk)
            offset += len(chunk)
        if version_key(path, os.fstat(fd)) != key:
            return None
        return b"".join(chunks)
    finally:
        os.close(fd)


def _unlink(path: str) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
