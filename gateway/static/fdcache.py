"""OpenFiles: a cache of open regular files for one mount, so a hot file costs one stat (to
see it is still the same file) instead of open/readlink/fstat/close. All caches of a process
share one FdBudget, a fraction of RLIMIT_NOFILE, so cached fds never starve connections.
Loop thread only (one per process), so no locks."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable

try:
    import resource
except ImportError:  # not Unix: no limit to ask; the fallback budget applies
    resource = None  # type: ignore[assignment]

# The caches may hold 1/FD_SHARE of the fd limit together; the rest is for connections,
# listeners, the loop's own fds, files being sent uncached and whatever handlers open.
FD_SHARE = 4
MIN_BUDGET = 4
MAX_BUDGET = 4096  # past this, caching more files saves little: a cold file costs one open()
_UNKNOWN_LIMIT = 1024


def fd_limit() -> int:
    """The soft RLIMIT_NOFILE (what open() and accept() run into)."""
    if resource is None:
        return _UNKNOWN_LIMIT
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return MAX_BUDGET * FD_SHARE if soft == resource.RLIM_INFINITY else int(soft)


def budget_for(limit: int) -> int:
    """How many fds the caches may hold under an fd limit of `limit`."""
    return max(MIN_BUDGET, min(MAX_BUDGET, limit // FD_SHARE))


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class FdBudget:
    """The fds every OpenFiles sharing this budget holds open together (cached ones, and
    evicted ones a response is still sending), against `limit`."""

    __slots__ = ("_caches", "held", "limit", "starved")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.starved = False  # the last open() found no fd, even after shedding
        self._caches: weakref.WeakSet[OpenFiles] = weakref.WeakSet()

    def register(self, cache: OpenFiles) -> None:
        self._caches.add(cache)

    def unregister(self, cache: OpenFiles) -> None:
        self._caches.discard(cache)

    def close_fd(self, fd: int) -> None:
        self.held -= 1
        os.close(fd)

    def shed(self) -> int:
        """Close every cached fd no response is using, in every cache (after EMFILE/ENFILE);
        the number closed. Busy entries stay: their responses are still sending them."""
        before = self.held
        for cache in list(self._caches):
            cache.evict_idle()
        return before - self.held


_shared: FdBudget | None = None


def shared_budget() -> FdBudget:
    """The process's budget, computed from the fd limit the first time a mount is built."""
    global _shared
    if _shared is None:
        _shared = FdBudget(budget_for(fd_limit()))
    return _shared


class CachedFile:
    __slots__ = ("budget", "dead", "fd", "identity", "refs", "st")

    def __init__(self, fd: int, st: os.stat_result, budget: FdBudget) -> None:
        self.fd = fd
        self.st = st
        self.identity = _identity(st)
        self.refs = 0
        self.dead = False
        self.budget = budget

    def acquire(self) -> Callable[[], None]:
        """One more user of the fd; call the returned function exactly once when done."""
        self.refs += 1
        return self._release

    def _release(self) -> None:
        self.refs -= 1
        if self.dead and self.refs == 0:
            self.budget.close_fd(self.fd)

    def retire(self) -> None:
        """Out of the cache: the fd closes now, or when its last response is sent."""
        if not self.dead:
            self.dead = True
            if self.refs == 0:
                self.budget.close_fd(self.fd)


class OpenFiles:
    """Path -> CachedFile, least recently used first. Every hit re-checks the file with one
    stat of its path (device, inode, size, mtime, ctime); a changed file is reopened."""

    def __init__(self, budget: FdBudget | None = None) -> None:
        self.budget = budget if budget is not None else shared_budget()
        self.budget.register(self)
        self._entries: dict[str, CachedFile] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, path: str) -> CachedFile | None:
        """The cached open file for `path` if it is still the same file."""
        entry = self._entries.pop(path, None)
        if entry is None:
            return None
        try:
            st = os.stat(path)  # _identity, inlined: this runs on every cached hit
            same = (
                st.st_dev,
                st.st_ino,
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
            ) == entry.identity
        except OSError:
            same = False
        if not same:
            entry.retire()
            return None
        self._entries[path] = entry  # re-inserted: now the most recently used
        return entry

    def peek(self, path: str) -> CachedFile | None:
        """The entry for `path` as it is, unchecked and left where it is in the order."""
        return self._entries.get(path)

    def put(self, path: str, fd: int, st: os.stat_result) -> CachedFile | None:
        """Keep `fd` as the open file for `path` (the cache then owns it), evicting the least
        recently used entries first if the budget is spent. None when it cannot be made to
        fit (other caches, or responses in flight, hold the budget): the caller keeps `fd`."""
        old = self._entries.pop(path, None)
        if old is not None:
            old.retire()
        budget = self.budget
        while budget.held >= budget.limit and self._entries:
            # A busy entry closes when its response ends; it counts until then.
            self._entries.pop(next(iter(self._entries))).retire()
        if budget.held >= budget.limit:
            return None
        budget.held += 1
        entry = CachedFile(fd, st, budget)
        self._entries[path] = entry
        return entry

    def evict_idle(self) -> None:
        """Close the cached fds no response is using."""
        for path in [p for p, entry in self._entries.items() if entry.refs == 0]:
            self._entries.pop(path).retire()

    def close(self) -> None:
        """Close every fd no response is using; the rest close when their response ends."""
        for entry in self._entries.values():
            entry.retire()
        self._entries.clear()
        self.budget.unregister(self)
