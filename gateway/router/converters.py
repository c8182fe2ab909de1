"""Parameter converters: each turns one decoded segment into a value, or returns REJECT.
They are total (never raise) and cheap, since the walk calls them on every candidate."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

# What a converter returns for a segment it rejects (None could be a real value).
REJECT = object()

Convert = Callable[[str], object]

_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def convert_int(segment: str) -> object:
    """ASCII digits only: no sign, no '_', no '²'; at most 18, so the value fits an int64."""
    if segment.isascii() and segment.isdigit() and len(segment) <= 18:
        return int(segment)
    return REJECT


def convert_uuid(segment: str) -> object:
    """The canonical 8-4-4-4-12 hex form, either case, as a uuid.UUID."""
    return uuid.UUID(segment) if _UUID.fullmatch(segment) else REJECT


def convert_str(segment: str) -> object:
    """Any non-empty segment, a '/' decoded from %2F included."""
    return segment if segment else REJECT


# By converter name: (weight, function). Lower weights are tried first, since a str
# parameter would swallow everything the typed ones accept.
CONVERTERS: dict[str, tuple[int, Convert]] = {
    "int": (0, convert_int),
    "uuid": (1, convert_uuid),
    "str": (2, convert_str),
}
