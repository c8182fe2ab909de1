"""Files that hold secrets: written atomically with mode 0600 in 0700 folders, and read
only when their mode keeps them private (refused like ssh refuses an open private key)."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from gateway.errors import GatewayError


class KeyFileError(GatewayError):
    """A private key file that cannot be used: unreadable or readable by others."""


def check_private(path: Path) -> None:
    """Raise KeyFileError when the key at `path` can be read by anyone but its owner.
    Debian's `ssl-cert` convention (owned by root, readable by its group only, so a service
    user in that group can read it: /etc/ssl/private) is allowed."""
    try:
        info = path.stat()
    except OSError as error:
        raise KeyFileError(f"cannot read key file {str(path)!r}: {error.strerror}") from None
    mode = stat.S_IMODE(info.st_mode)
    group_only = info.st_uid == 0 and not mode & 0o007
    if mode & 0o077 and not group_only:
        raise KeyFileError(
            f"key file {str(path)!r} has mode {mode:04o}, so others can read the private key:"
            f" run `chmod 600 {path}` (the key is refused until then)"
        )


def read_private(path: Path) -> bytes:
    """The bytes of a private key file, after check_private."""
    check_private(path)
    try:
        return path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read key file {str(path)!r}: {error.strerror}") from None


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) as a 0700 folder; tighten it if it exists looser."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o700)
    return path


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` through a temporary file in the same folder, created with
    `mode` from the start (never briefly world-readable), fsynced, then renamed over."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)  # O_CREAT's mode is cut by the umask; the exact mode matters here
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def data_home() -> Path:
    """gateway's per-user data folder: $XDG_DATA_HOME/gateway or ~/.local/share/gateway."""
    base = os.environ.get("XDG_DATA_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "gateway"
