"""What StaticMount.from_spec checks in a [[static]] table before compiling it: index names,
the fallback path, precompressed codings, the dotfile and symlink policies; every problem
is reported at its key."""

from __future__ import annotations

from gateway.config.schema import DOTFILES, SYMLINKS, StaticSpec
from gateway.errors import ConfigIssue
from gateway.static.negotiate import CODING_SUFFIX
from gateway.static.paths import bad_segment


def relative_parts(path: str) -> tuple[str, ...]:
    # "./index.html" and "app//shell.html" are what people write; ".." stays in, to be refused.
    return tuple(part for part in path.split("/") if part not in ("", "."))


def check_spec(spec: StaticSpec) -> list[ConfigIssue]:
    """What from_spec cannot compile, each at its key."""
    issues: list[ConfigIssue] = []
    for i, name in enumerate(spec.index):
        if bad_segment(name):
            issues.append(spec.where.issue(f"{name!r} must be a file name in dir", f"index[{i}]"))
    if spec.fallback is not None:
        parts = relative_parts(spec.fallback)
        if not parts or any(bad_segment(p) for p in parts):
            message = f"{spec.fallback!r} must be a path inside dir, without '.' or '..'"
            issues.append(spec.where.issue(message, "fallback"))
    for i, coding in enumerate(spec.precompressed):
        if coding not in CODING_SUFFIX:
            known = ", ".join(repr(c) for c in CODING_SUFFIX)
            message = f"unknown coding {coding!r}: use {known}"
            issues.append(spec.where.issue(message, f"precompressed[{i}]"))
    policies = (("dotfiles", spec.dotfiles, DOTFILES), ("symlinks", spec.symlinks, SYMLINKS))
    for key, value, allowed in policies:
        if value not in allowed:
            message = f"{value!r} is not one of {', '.join(repr(a) for a in allowed)}"
            issues.append(spec.where.issue(message, key))
    return issues
