"""What an edit changed: content digests of the files an app is built from (the config, every
Python file under the site root, the [errors] pages, included files), the directories to
watch for them, and the URLs a static file is served at."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from gateway.config.schema import GatewayConfig
from gateway.reload.watch import Plan

Digests = dict[str, str]  # path -> sha1 of its bytes ("" when it cannot be read)

# Folders no handler module lives in: tools' caches and virtualenvs.
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})


def app_files(config_path: Path, config: GatewayConfig) -> list[str]:
    """The files `config`'s app is built from. Every .py under root counts, imported or not,
    so that fixing a module whose import failed is seen as a change."""
    files = [str(config_path)]
    for folder, dirs, names in os.walk(config.server.root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        files += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".py")]
    files += [str(page) for page in config.errors.values()]
    # Included files, and what their globs match now: a file added to routes/ is new.
    files += [str(path) for path in config.includes]
    for pattern in config.include_patterns:
        files += sorted(glob.glob(pattern, recursive=True))
    return list(dict.fromkeys(files))


def digest(paths: Iterable[str]) -> Digests:
    found: Digests = {}
    for path in paths:
        try:
            with open(path, "rb") as file:
                found[path] = hashlib.file_digest(file, "sha1").hexdigest()
        except OSError:
            found[path] = ""
    return found


def sha1_text(text: str) -> str:
    """The digest `digest` gives a file holding `text` as UTF-8 (a parsed config's source)."""
    return hashlib.sha1(text.encode()).hexdigest()


def changed(old: Digests, new: Digests) -> list[str]:
    """Paths whose content differs, appeared or disappeared."""
    return sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))


def drop_bytecode(paths: Iterable[str]) -> None:
    """Delete the cached bytecode of edited modules: a .pyc is trusted when the source's
    size and mtime in whole seconds match, which a quick same-size edit can keep."""
    for path in paths:
        if not path.endswith(".py"):
            continue
        with contextlib.suppress(OSError, ValueError, NotImplementedError):
            os.unlink(importlib.util.cache_from_source(path))


def forget_modules(root: Path) -> None:
    """Drop every imported module under `root`, for when an edit kept a file's size and
    mtime (SiteModules.refresh compares those) but changed its bytes."""
    prefix = str(root.resolve()) + os.sep
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and os.path.realpath(file).startswith(prefix):
            del sys.modules[name]
    importlib.invalidate_caches()


def watch_plan(config_path: Path, config: GatewayConfig) -> Plan:
    """The config's folder (not its file: editors and ConfigMaps replace the file), the site
    root, and static and error-page folders outside it; none inside another recursive one."""
    wanted: Plan = [(str(config_path.parent), False), (str(config.server.root), True)]
    wanted += [(os.path.realpath(spec.dir), True) for spec in config.static]
    wanted += [(str(page.parent), False) for page in config.errors.values()]
    wanted += [(str(path.parent), False) for path in config.includes]
    wanted += [_glob_folder(pattern) for pattern in config.include_patterns]
    recursive = [path for path, deep in wanted if deep]
    plan: Plan = []
    for path, deep in wanted:
        covered = any(_under(path, other) and (other != path or not deep) for other in recursive)
        if not covered and (path, deep) not in plan:
            plan.append((path, deep))
    return plan


def served_at(path: str, config: GatewayConfig) -> list[str]:
    """The URL paths at which a [[static]] mount serves `path` (none when it serves it not)."""
    real = os.path.realpath(path)
    urls = []
    for spec in config.static:
        root = os.path.realpath(spec.dir)
        if not _under(real, root):
            continue
        rel = os.path.relpath(real, root).replace(os.sep, "/")
        parts = [] if rel == "." else rel.split("/")
        if spec.dotfiles != "allow" and any(part.startswith(".") for part in parts):
            continue  # never served, so no page shows it
        urls.append(spec.prefix.rstrip("/") + "/" + "/".join(parts))
    return urls


def _glob_folder(pattern: str) -> tuple[str, bool]:
    """The folder above a glob's first wildcard, watched deeply when the glob has '**'."""
    parts = pattern.split(os.sep)
    first = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts) - 1)
    return os.sep.join(parts[:first]) or os.sep, "**" in pattern


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
