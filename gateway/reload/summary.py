"""What a reload changed, for its log line: routes and mounts added, removed and changed (a
respond body, a redirect, a mount's settings all count), cors policies, and the [server],
[dev] and [errors] keys that differ. Specs are compared without their source positions."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping
from typing import Any

from gateway.config.schema import NOWHERE, GatewayConfig

SHOWN = 3  # names listed per kind before "+N more"


def describe_changes(old: GatewayConfig, new: GatewayConfig) -> str:
    """'routes: +1 -0 ~1 (+/other ~/hello); static: ~/; server: access_log' (routes always)."""
    routes = _diff(
        {_route_key(r): _plain(r) for r in old.routes},
        {_route_key(r): _plain(r) for r in new.routes},
    )
    parts = [f"routes: {_counts(routes)}{_names(routes)}"]
    mounts = _diff(
        {_mount_key(m): _plain(m) for m in old.static},
        {_mount_key(m): _plain(m) for m in new.static},
    )
    if any(mounts):
        parts.append(f"static: {_counts(mounts)}{_names(mounts)}")
    policies = _diff(
        {name: _plain(p) for name, p in old.cors.items()},
        {name: _plain(p) for name, p in new.cors.items()},
    )
    if any(policies):
        parts.append(f"cors: {_counts(policies)}{_names(policies)}")
    for table, before, after in (
        ("server", old.server, new.server),
        ("dev", old.dev, new.dev),
    ):
        keys = _changed_fields(before, after)
        if keys:
            parts.append(f"{table}: {', '.join(keys)}")
    if dict(old.errors) != dict(new.errors):
        parts.append("errors pages")
    return "; ".join(parts)


def listen_changed(old: GatewayConfig, new: GatewayConfig) -> bool:
    return tuple(old.server.listen) != tuple(new.server.listen)


Diff = tuple[list[str], list[str], list[str]]  # added, removed, changed


def _diff(before: Mapping[Hashable, object], after: Mapping[Hashable, object]) -> Diff:
    added = [_show(k) for k in after if k not in before]
    removed = [_show(k) for k in before if k not in after]
    changed = [_show(k) for k in after if k in before and before[k] != after[k]]
    return added, removed, changed


def _counts(diff: Diff) -> str:
    added, removed, changed = diff
    return f"+{len(added)} -{len(removed)} ~{len(changed)}"


def _names(diff: Diff) -> str:
    marked = [f"{sign}{name}" for sign, names in zip("+-~", diff, strict=True) for name in names]
    if not marked:
        return ""
    more = f" +{len(marked) - SHOWN} more" if len(marked) > SHOWN else ""
    return f" ({' '.join(marked[:SHOWN])}{more})"


def _show(key: Hashable) -> str:
    if isinstance(key, tuple):  # (host, methods, path) or (host, prefix)
        host, *_, path = key
        return f"{host}{path}" if host else str(path)
    return str(key)


def _route_key(route: Any) -> tuple[str | None, tuple[str, ...], str]:
    return (route.host, route.methods, route.path)


def _mount_key(mount: Any) -> tuple[str | None, str]:
    return (mount.host, mount.prefix)


def _plain(spec: Any) -> Any:
    """The spec without where it sits: moving a route down the file changes nothing."""
    return dataclasses.replace(spec, where=NOWHERE)


def _changed_fields(before: Any, after: Any) -> list[str]:
    return [
        field.name
        for field in dataclasses.fields(before)
        if field.name != "where" and getattr(before, field.name) != getattr(after, field.name)
    ]
