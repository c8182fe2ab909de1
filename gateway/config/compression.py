"""`compress = true | false | { codings, min_size, types, levels }` on [server] and [[route]]:
read into a CompressSpec (unset fields stay None so a route inherits the server's), and
turned into a gateway.compress Policy (policy_for) when the app is compiled."""

from __future__ import annotations

import re
from typing import Any

from gateway.config import values as v
from gateway.config.fields import Invalid, Section
from gateway.config.schema import CompressSpec

COMPRESS_KEYS = ("codings", "min_size", "types", "levels")
CODINGS = ("zstd", "br", "gzip")
LEVELS = {"gzip": (0, 9), "br": (0, 11), "zstd": (-7, 22)}  # what each library takes


def read_compress(section: Section) -> CompressSpec | None:
    """The `compress` key of `section`; None when it is not set."""
    if not section.has("compress"):
        return None
    value = section.data["compress"]
    if isinstance(value, bool):
        return CompressSpec(enabled=value)
    if not isinstance(value, dict):
        section.fail(
            "compress",
            f'expected true, false or a table like {{ min_size = "2KiB" }}, got {value!r}',
        )
        return None
    table = section.table("compress")
    if table is None:
        return None
    table.check_keys(COMPRESS_KEYS)
    return CompressSpec(
        codings=table.get("codings", _codings, None),
        min_size=table.get("min_size", v.size(0), None),
        types=table.get("types", _media_types, None),
        levels=table.get("levels", _levels, None),
    )


_MEDIA_PATTERN = re.compile(rf"{v.TOKEN.pattern}/{v.TOKEN.pattern}|\*\+{v.TOKEN.pattern}")


def _media_types(value: object) -> tuple[str, ...]:
    """type/subtype, type/* or *+suffix: what compress.policy matches; 'json' never would."""
    return tuple(v.each(value, _media_type))


def _media_type(value: object) -> str:
    text = v.string(value)
    if not _MEDIA_PATTERN.fullmatch(text):
        raise Invalid(
            f"{text!r} is not a media type: write e.g. 'application/json', 'text/*' or '*+json'"
        )
    return text


def _codings(value: object) -> tuple[str, ...]:
    codings = v.strings(value)
    for i, coding in enumerate(codings):
        if coding not in CODINGS:
            raise Invalid(f"unknown content coding {coding!r}: use zstd, br or gzip", (i,))
    return codings


def _levels(value: object) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict):
        raise Invalid(f"expected a table like {{ gzip = 6, br = 4 }}, got {value!r}")
    levels = []
    for coding, level in value.items():
        if coding not in CODINGS:
            raise Invalid(f"level for unknown coding {coding!r}: use zstd, br or gzip", (coding,))
        low, high = LEVELS[coding]
        try:
            levels.append((coding, v.integer(low, high)(level)))
        except Invalid as exc:
            raise Invalid(f"{coding} level: {exc}", (coding,)) from None
    return tuple(levels)


def policy_for(server: CompressSpec, route: CompressSpec | None = None) -> Any:
    """The gateway.compress Policy for a route (None: the server's): each field the route
    sets replaces the server's; `compress = true` on a route turns it on even when the
    server's is off, `false` turns it off. None when compression is off."""
    from gateway.compress.codecs import FAST_LEVELS, PREFERENCE
    from gateway.compress.policy import DEFAULT_MIN_SIZE, DEFAULT_TYPES, Policy

    enabled = route.enabled if route is not None else server.enabled
    if not enabled:
        return None

    def pick(name: str) -> Any:
        mine = getattr(route, name, None) if route is not None else None
        return mine if mine is not None else getattr(server, name)

    levels = dict(FAST_LEVELS)
    levels.update(dict(server.levels or ()))
    levels.update(dict((route.levels if route is not None else None) or ()))
    min_size = pick("min_size")
    return Policy(
        codings=pick("codings") or PREFERENCE,
        min_size=DEFAULT_MIN_SIZE if min_size is None else min_size,
        types=pick("types") or DEFAULT_TYPES,
        levels=levels,
    )
