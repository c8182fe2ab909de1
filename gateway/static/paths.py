"""Untrusted URL segments to a file path under a mount's root (lexical_join: no syscalls, None
for a bad segment or a hidden dotfile), and whether what an opened file really is may be
served (real_allowed). Total functions; containment is os.path.commonpath, never a prefix."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from gateway.config.schema import DotfilePolicy as DotfilePolicy
from gateway.config.schema import SymlinkPolicy as SymlinkPolicy

# The one dot-name every policy lets through: RFC 8615 puts ACME challenges, security.txt and
# the like there, and hiding it would break certificate issuance behind this server.
WELL_KNOWN = ".well-known"

# "C:" or "c:foo" joins as a drive on Windows; never a name a URL should reach on any OS.
_DRIVE = re.compile(r"[A-Za-z]:")


def bad_segment(segment: str) -> bool:
    """True for a segment that must never reach the filesystem: empty, "." or "..", one with
    a separator or NUL in it (a %2F / %5C / %00 the router decoded), or a drive ("C:")."""
    return (
        not segment
        or segment == "."
        or segment == ".."
        or "/" in segment
        or "\\" in segment
        or "\x00" in segment
        or _DRIVE.match(segment) is not None
    )


def hidden(segment: str, dotfiles: DotfilePolicy) -> bool:
    """True when `segment` is a dotfile the policy hides ("deny" and "ignore" both do;
    the mount decides what each means beyond that). `.well-known` is never hidden."""
    return dotfiles != "allow" and segment[:1] == "." and segment != WELL_KNOWN


def lexical_join(
    root: str, segments: Sequence[str], dotfiles: DotfilePolicy = "deny"
) -> str | None:
    """root/seg/seg... if every segment is safe and visible, else None. No syscalls.
    An empty last segment (the trailing slash) is allowed and dropped."""
    if segments and segments[-1] == "":
        segments = segments[:-1]
    for segment in segments:
        if bad_segment(segment) or hidden(segment, dotfiles):
            return None
    return os.path.join(root, *segments) if segments else root


def inside(root: str, path: str) -> bool:
    """True when `path` is `root` or below it. Both must be absolute and normalised.
    commonpath compares whole components: /static_private is not inside /static."""
    try:
        return os.path.commonpath([root, path]) == root
    except ValueError:  # mixed absolute and relative, or (on Windows) different drives
        return False


def real_allowed(root: str, lexical: str, real: str, symlinks: SymlinkPolicy) -> bool:
    """Whether the file at `lexical`, which resolves to `real`, may be served under `root`.
    `lexical` is already known to be inside `root`; `root` is a realpath."""
    if symlinks == "follow":
        return True
    if symlinks == "deny":
        # root has no symlinks (it is a realpath), so any symlink below it makes these differ.
        return real == lexical
    return inside(root, real)
