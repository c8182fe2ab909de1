"""Headless Chromium for the browser tests: where it is, the flags this workplace needs,
and a context manager that starts it on a URL in its own session and, whatever happens,
kills that whole process group (the renderers too) and waits for it to be gone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.support import wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
)

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium (apt-get install chromium)"
)


@contextmanager
def headless(url: str, profile: Path, log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Chromium showing `url`, with a fresh profile; its output goes to `log` if given."""
    assert CHROMIUM is not None
    profile.mkdir(parents=True, exist_ok=True)
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", url],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own group: pgid == pid, so one kill reaches all
        )
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        try:
            wait_for(lambda: not _group_alive(proc.pid), timeout=10, interval=0.05)
        except AssertionError:
            warnings.warn(f"chromium processes of group {proc.pid} outlived SIGKILL", stacklevel=1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
