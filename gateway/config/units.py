"""Sizes and durations as gateway.toml spells them ("10MB", "512KiB", "750ms", "10m").
Parsing is strict: a value is a number, or a number with one known unit, and anything else
raises ValueError with a message that says what would be right."""

from __future__ import annotations

import math
import re
from decimal import Decimal

SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# Longer is a slip, and waits (threading, settimeout, select) raise OverflowError on a
# timeout past ~292 years: 1e12 seconds made every async handler call fail.
MAX_DURATION = 10 * 365 * 86400

# A plain decimal number, then an optional unit; no sign, no exponent, no inner spaces.
_AMOUNT = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*")

_SIZE_HELP = "use a number of bytes or a number with B, KB, MB, GB, KiB, MiB or GiB"
_DURATION_HELP = "use a number of seconds or a number with ms, s, m or h"


def parse_size(value: int | str) -> int:
    """Bytes from an int or a string like "10MB" (10_000_000) or "10MiB" (10 * 2**20)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a size: {_SIZE_HELP}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value!r} is not a size: sizes cannot be negative")
        return value
    match = _AMOUNT.fullmatch(value)
    factor = SIZE_UNITS.get(match.group(2).lower() or "b") if match else None
    if match is None or factor is None:
        raise ValueError(f"{value!r} is not a size: {_SIZE_HELP}")
    # Decimal keeps "1.1MB" exact, where a float would land a byte off.
    amount = Decimal(match.group(1)) * factor
    if amount != amount.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of bytes")
    return int(amount)


def parse_duration(value: int | float | str) -> float:
    """Seconds from a number or a string like "750ms", "30s", "10m", "1h" or "1.5s"."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a duration: {_DURATION_HELP}")
    if not isinstance(value, str):
        if not math.isfinite(value):
            raise ValueError(
                f"{value!r} is not a duration: use a finite number of seconds, 0 or more"
            )
        if value < 0:
            raise ValueError(f"{value!r} is not a duration: durations are 0 or more seconds")
        seconds = float(value)
    else:
        match = _AMOUNT.fullmatch(value)
        factor = DURATION_UNITS.get(match.group(2).lower() or "s") if match else None
        if match is None or factor is None:
            raise ValueError(f"{value!r} is not a duration: {_DURATION_HELP}")
        seconds = float(match.group(1)) * factor
    if seconds > MAX_DURATION:
        raise ValueError(
            f"{value!r} is more than 10 years: durations go up to {MAX_DURATION} seconds"
        )
    return seconds


def format_size(size: int) -> str:
    """The shortest exact spelling: 10_000_000 -> "10MB", 1_048_576 -> "1MiB", 1500 -> "1500B"."""
    for unit in ("GiB", "GB", "MiB", "MB", "KiB", "KB"):
        factor = SIZE_UNITS[unit.lower()]
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def format_duration(seconds: float) -> str:
    """A readable spelling: 0.75 -> "750ms", 30 -> "30s", 600 -> "10m", 5400 -> "90m"."""
    if seconds and seconds < 1:
        return f"{_trim(seconds * 1000)}ms"
    for unit, factor in (("h", 3600.0), ("m", 60.0)):
        if seconds >= factor and (seconds / factor).is_integer():
            return f"{int(seconds / factor)}{unit}"
    return f"{_trim(seconds)}s"


def _trim(number: float) -> str:
    # Round away float noise (0.1 * 1000 = 100.00000000000001) before printing.
    return f"{round(number, 6):g}"
