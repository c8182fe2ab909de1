"""The watcher: one watchdog observer over a plan of (directory, recursive) watches. It reports
each changed path that is not editor or cache noise, and re-establishes a watch whose directory
vanished and came back (watchdog stops watching a directory that is deleted)."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

log = logging.getLogger("gateway.reload")

Plan = list[tuple[str, bool]]  # (directory, recursive)

POLL_INTERVAL = 0.5  # seconds between snapshots in poll mode
# Only what changes a file's content or existence: no open/read events, so our own reads
# (hashing, serving) never come back as changes.
_EVENTS = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
_NOISE_DIRS = frozenset(
    {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
)
# vim's swap files and its "4913" write probe, emacs lock files, backup files.
_NOISE_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".kate-swp", ".pyc")


def is_noise(path: str) -> bool:
    parts = path.split(os.sep)
    name = parts[-1]
    if name == "4913" or name.startswith(".#") or name.endswith(_NOISE_SUFFIXES):
        return True
    return any(part in _NOISE_DIRS for part in parts)


@dataclass(eq=False)
class _Watch:
    path: str
    recursive: bool
    handle: Any = None  # the ObservedWatch while scheduled
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the directory watched
    stale: bool = False  # watchdog saw the directory itself deleted
    seen: bool = False  # scheduled at least once: a later reschedule means it came back


class Watcher:
    """Call `apply(plan, poll)` and `check()` from one thread (the reload thread); `report`
    is called on watchdog's threads with each changed path."""

    def __init__(self, report: Callable[[str], None], poll: bool) -> None:
        self.report = report
        self.poll = poll
        self.watches: list[_Watch] = []
        self._handler = _Handler(self)
        self._observer = self._new_observer(poll)

    def apply(self, plan: Plan, poll: bool) -> None:
        """Watch exactly the directories in `plan`, with native events or by polling."""
        if poll != self.poll:
            self.poll = poll
            self._restart()
        keep = {(w.path, w.recursive): w for w in self.watches}
        for key, watch in keep.items():
            if key not in plan:
                self._unschedule(watch)
        self.watches = [keep.get(key) or _Watch(*key) for key in dict.fromkeys(plan)]
        for watch in self.watches:
            if watch.handle is None:
                self._schedule(watch)

    def check(self) -> None:
        """Re-establish watches whose directory came back or was replaced, and restart an
        observer that died; a directory that came back is reported as changed."""
        if not self._observer.is_alive():
            log.warning("the file watcher stopped; starting it again")
            self._restart()
        for watch in self.watches:
            identity = _identity(watch.path)
            if identity is None:
                self._unschedule(watch)
                watch.identity = None
            elif watch.handle is None or watch.stale or identity != watch.identity:
                self._unschedule(watch)
                came_back = watch.seen
                if self._schedule(watch) and came_back:
                    self.report(watch.path)

    def mark_deleted(self, path: str) -> None:
        for watch in self.watches:
            if watch.path == path:
                watch.stale = True

    def stop(self) -> None:
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(5)

    # -- scheduling -------------------------------------------------------------------------

    def _new_observer(self, poll: bool) -> Any:
        observer = PollingObserver(timeout=POLL_INTERVAL) if poll else Observer()
        observer.daemon = True
        observer.start()
        return observer

    def _restart(self) -> None:
        old, self._observer = self._observer, self._new_observer(self.poll)
        for watch in self.watches:
            watch.handle = None
            self._schedule(watch)
        old.stop()

    def _schedule(self, watch: _Watch) -> bool:
        identity = _identity(watch.path)
        if identity is None:
            return False
        try:
            watch.handle = self._observer.schedule(
                self._handler, watch.path, recursive=watch.recursive, event_filter=_EVENTS
            )
        except OSError as exc:  # vanished meanwhile, or out of inotify watches
            log.warning("cannot watch %s: %s", watch.path, exc.strerror or exc)
            return False
        watch.identity, watch.stale, watch.seen = identity, False, True
        return True

    def _unschedule(self, watch: _Watch) -> None:
        handle, watch.handle = watch.handle, None
        if handle is None:
            return
        with contextlib.suppress(KeyError, OSError):  # gone already with its emitter
            self._observer.unschedule(handle)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory and event.event_type == "modified":
            return  # a child changed: the child's own event says which
        src = os.fsdecode(event.src_path)
        if event.is_directory and event.event_type == "deleted":
            self.watcher.mark_deleted(src)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        for path in (src, dest):
            if path and not is_noise(path):
                self.watcher.report(path)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None
