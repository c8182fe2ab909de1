"""Opener: how a mount opens a path under its root. Open first, then check what the fd
really is against the symlink policy, then fstat; regular files go through the open-file
cache; running out of fds sheds the cache and retries once, else HTTPError(503)."""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable
from typing import Any

from gateway.errors import HTTPError
from gateway.response import FileBody
from gateway.static.fdcache import FdBudget, OpenFiles, fd_limit
from gateway.static.paths import SymlinkPolicy, real_allowed

# O_NONBLOCK: opening a FIFO someone left in the dir would otherwise block the whole loop;
# for regular files Linux ignores it, so sendfile behaves as usual.
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
# Where the kernel says which file an fd really is: one readlink instead of realpath's lstat
# of every component, and it checks the file actually opened, so there is no check-then-open
# race. Without /proc (not Linux), realpath of the path stands in.
_PROC_FD = "/proc/self/fd/"
_HAVE_PROC_FD = os.path.isdir(_PROC_FD)
# open() failing for want of fds is the server's trouble, not a missing file: shed cached fds
# and retry once, else 503 (nginx answers 500; 503 + Retry-After says "try again soon").
_OUT_OF_FDS = frozenset((errno.EMFILE, errno.ENFILE))
RETRY_AFTER = "1"

Opened = tuple[FileBody, os.stat_result]

log = logging.getLogger("gateway.static")


class Opener:
    """Opens paths (already joined lexically under `root`, a realpath) for one mount."""

    __slots__ = ("files", "flags", "root", "symlinks")

    def __init__(self, root: str, symlinks: SymlinkPolicy, budget: FdBudget | None) -> None:
        self.root = root
        self.symlinks = symlinks
        self.flags = _OPEN_FLAGS | (os.O_NOFOLLOW if symlinks == "deny" else 0)
        self.files = OpenFiles(budget)

    def open(self, path: str) -> Opened | None:
        """Open `path` and fstat it if the symlink policy allows what it resolves to; the
        FileBody covers the whole file and owns the fd (or a reference to a cached one)."""
        cached = self.files.get(path)
        if cached is not None:
            return FileBody(cached.fd, 0, cached.st.st_size, cached.acquire()), cached.st
        opened = self._open_uncached(path)
        if opened is not None and stat.S_ISREG(opened[1].st_mode):
            body, st = opened
            entry = self.files.put(path, body.fd, st)
            if entry is not None:  # else the body keeps its own fd and closes it when sent
                body.release = entry.acquire()
        return opened

    def open_regular(self, path: str) -> Opened | None:
        opened = self.open(path)
        if opened is not None and not stat.S_ISREG(opened[1].st_mode):
            opened[0].close()
            return None
        return opened

    def open_made(self, path: str, size: int) -> Opened | None:
        """Open a file the server made itself (a compressed variant, outside the dir, so no
        symlink policy applies; a symlink there is refused). Through the open-file cache and
        the fd budget like any file; None unless it is a regular file of `size` bytes."""
        cached = self.files.get(path)
        if cached is not None:
            return FileBody(cached.fd, 0, cached.st.st_size, cached.acquire()), cached.st
        try:
            fd = self.with_fds(os.open, path, _OPEN_FLAGS | os.O_NOFOLLOW)
        except (OSError, ValueError, HTTPError):  # out of fds: the identity file will do
            return None
        body = FileBody(fd, 0, 0)
        try:
            st = os.fstat(fd)
        except BaseException:
            body.close()
            raise
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            body.close()
            return None
        body.length = size
        entry = self.files.put(path, fd, st)
        if entry is not None:
            body.release = entry.acquire()
        return body, st

    def with_fds(self, call: Callable[..., Any], *args: Any) -> Any:
        """call(*args); on EMFILE/ENFILE, close idle cached fds and try once more; still out
        of fds (or none to close): HTTPError(503) with Retry-After. Other OSErrors propagate."""
        budget = self.files.budget
        try:
            result = call(*args)
        except OSError as exc:
            if exc.errno not in _OUT_OF_FDS:
                raise
            if budget.shed():
                try:
                    return call(*args)
                except OSError as again:
                    if again.errno not in _OUT_OF_FDS:
                        raise
            if not budget.starved:  # say it once per episode, not once per request
                budget.starved = True
                log.warning(
                    "out of file descriptors opening static files: answering 503 until some "
                    "are free (the fd limit is %d; raise it)",
                    fd_limit(),
                )
            raise HTTPError(
                503, "out of file descriptors", [("retry-after", RETRY_AFTER)]
            ) from None
        if budget.starved:
            budget.starved = False
            log.warning("static files open again after running out of file descriptors")
        return result

    def close(self) -> None:
        self.files.close()

    def _open_uncached(self, path: str) -> Opened | None:
        try:
            fd = self.with_fds(os.open, path, self.flags)
        except (OSError, ValueError):
            return None
        body = FileBody(fd, 0, 0)
        try:
            if self.symlinks != "follow" and not real_allowed(
                self.root, path, _real_path(fd, path), self.symlinks
            ):
                body.close()
                return None
            st = os.fstat(fd)
        except BaseException:
            body.close()
            raise
        body.length = st.st_size
        return body, st


def _real_path(fd: int, path: str) -> str:
    if _HAVE_PROC_FD:
        try:
            return os.readlink(f"{_PROC_FD}{fd}")
        except OSError:  # /proc unmounted since start-up (a chroot): fall back
            pass
    return os.path.realpath(path)


def is_file(path: str) -> bool:
    """Whether `path` is a regular file now (a plain stat: for decisions, not for serving)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False
