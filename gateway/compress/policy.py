"""What to compress and with which coding: the Accept-Encoding negotiation (RFC 9110
§12.5.3, q-values, identity and "*") and the Policy a server, route or mount configures
(codings in preference order, minimum size, compressible media types, levels)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.compress.codecs import FAST_LEVELS, PREFERENCE, installed

# Media types worth compressing: text, and the structured and code formats that are text
# under another name. "*+json" matches any structured-syntax suffix (RFC 6839).
DEFAULT_TYPES = (
    "text/*",
    "application/json",
    "*+json",
    "application/xml",
    "*+xml",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/wasm",
    "application/x-ndjson",
    "application/graphql-response+json",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/bmp",
    "font/ttf",
    "font/otf",
    "application/vnd.ms-fontobject",
)

DEFAULT_MIN_SIZE = 1024  # below about one packet the coding's header costs more than it saves


def _qvalue(raw: str) -> float | None:
    try:
        weight = float(raw)
    except ValueError:
        return None
    return weight if math.isfinite(weight) and 0.0 <= weight <= 1.0 else None


def parse_accept_encoding(value: str) -> dict[str, float]:
    """'gzip, br;q=0.5, *;q=0' -> {"gzip": 1.0, "br": 0.5, "*": 0.0}. Names lowercased,
    x-gzip read as gzip; an element with a q that is not a number in [0, 1] is dropped;
    the first of a repeated name wins. Malformed input is skipped, never an error."""
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
            weights.setdefault("gzip" if name == "x-gzip" else name, weight)
    return weights


def negotiate(accept_encoding: str | None, offered: Sequence[str] | None = None) -> str | None:
    """The coding to send, or None for identity. `offered` is the server's codings in its
    preference order (installed ones when None). The client's highest q wins; equal q
    goes to the server's order; an explicitly listed identity with a higher q than every
    coding wins. No header at all gets identity: clients that send none (curl, scripts)
    rarely decode anything."""
    if not accept_encoding:
        return None
    offered = installed() if offered is None else offered
    weights = parse_accept_encoding(accept_encoding)
    star = weights.get("*", 0.0)
    best: str | None = None
    best_q = 0.0
    for coding in offered:
        q = weights.get(coding, star)
        if q > best_q:
            best, best_q = coding, q
    if best is not None and weights.get("identity", -1.0) > best_q:
        return None
    return best


def _type_matches(media_type: str, pattern: str) -> bool:
    if pattern.endswith("/*"):
        return media_type.startswith(pattern[:-1])
    if pattern.startswith("*+"):
        return media_type.endswith(pattern[1:])
    return media_type == pattern


@dataclass(frozen=True, slots=True)
class Policy:
    """Compression settings for one scope (`compress = { ... }` of a server, route or mount).
    `codings` are the server's preference; those whose library is missing are dropped."""

    codings: tuple[str, ...] = PREFERENCE
    min_size: int = DEFAULT_MIN_SIZE
    types: tuple[str, ...] = DEFAULT_TYPES
    levels: Mapping[str, int] = field(default_factory=lambda: dict(FAST_LEVELS))
    enabled: bool = True

    def __post_init__(self) -> None:
        for coding in self.codings:
            if coding not in PREFERENCE:
                raise ValueError(f"unknown content coding {coding!r}: use zstd, br or gzip")
        if self.min_size < 0:
            raise ValueError(f"min_size {self.min_size!r} is negative: use 0 or more bytes")
        for coding in self.levels:
            if coding not in PREFERENCE:
                raise ValueError(f"level for unknown coding {coding!r}: use zstd, br or gzip")

    @property
    def offered(self) -> tuple[str, ...]:
        have = installed()
        return tuple(coding for coding in self.codings if coding in have)

    def level(self, coding: str) -> int:
        return self.levels.get(coding, FAST_LEVELS[coding])

    def compressible(self, content_type: str | None) -> bool:
        """Whether a body of this Content-Type is worth compressing (parameters ignored)."""
        if not content_type:
            return False
        media_type = content_type.partition(";")[0].strip().lower()
        return any(_type_matches(media_type, pattern) for pattern in self.types)

    def choose(self, accept_encoding: str | None) -> str | None:
        return negotiate(accept_encoding, self.offered) if self.enabled else None


DEFAULT_POLICY = Policy()
