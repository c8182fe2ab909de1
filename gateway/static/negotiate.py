"""What a client accepts, for static files: which precompressed codings (Accept-Encoding,
RFC 9110 §12.5.3) and whether it asked for HTML by name (Accept, for the SPA fallback).
Pure functions over header values; a malformed element is skipped, never an error."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Content coding -> the suffix of its precompressed sibling file.
CODING_SUFFIX = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}

# RFC 9110 §12.5.3: recipients should treat x-gzip as gzip.
_ALIASES = {"x-gzip": "gzip"}


def parse_weights(value: str) -> dict[str, float]:
    """'gzip, br;q=0.5, *;q=0' -> {"gzip": 1.0, "br": 0.5, "*": 0.0}. Names lowercased; an
    element whose q is not a number in [0, 1] is dropped; the first of a repeated name wins."""
    weights: dict[str, float] = {}
    for element in value.split(","):
        name, *params = element.split(";")
        name = name.strip().lower()
        if not name:
            continue
        weight: float | None = 1.0
        for param in params:
            key, _, raw = param.partition("=")
            if key.strip().lower() == "q":
                weight = _qvalue(raw.strip())
        if weight is not None:
            weights.setdefault(_ALIASES.get(name, name), weight)
    return weights


def _qvalue(raw: str) -> float | None:
    try:
        weight = float(raw)
    except ValueError:
        return None
    return weight if math.isfinite(weight) and 0.0 <= weight <= 1.0 else None


def accepted_codings(accept_encoding: str | None, offered: Sequence[str]) -> tuple[str, ...]:
    """The codings of `offered`, in the order given (the server's preference), that the
    client accepts: listed with q > 0, or not listed while "*" has q > 0.

    No Accept-Encoding header at all gets identity: the RFC would allow any coding, but
    clients that send none (curl, scripts) rarely decode one."""
    if not accept_encoding:
        return ()
    weights = parse_weights(accept_encoding)
    star = weights.get("*", 0.0)
    return tuple(coding for coding in offered if weights.get(coding, star) > 0.0)


def accepts_html(accept: str | None) -> bool:
    """True when Accept names text/html with q > 0. "*/*" and "text/*" do not count: fetch()
    and scripts send those, and they should get a 404 rather than the app's index page."""
    if not accept:
        return False
    return parse_weights(accept).get("text/html", 0.0) > 0.0
