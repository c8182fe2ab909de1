"""Sizes and durations: every accepted spelling, and the exact errors for the rest."""

from __future__ import annotations

import pytest

from gateway.config.units import format_duration, format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (100, 100),
        (0, 0),
        ("100", 100),
        ("100B", 100),
        ("512KB", 512_000),
        ("512KiB", 512 * 1024),
        ("10MB", 10_000_000),
        ("10MiB", 10 * 1024 * 1024),
        ("1GB", 1_000_000_000),
        ("1GiB", 1024**3),
        ("10mb", 10_000_000),
        ("10mIb", 10 * 1024 * 1024),
        ("1.5KB", 1500),
        ("1.5MiB", 1_572_864),
        ("10 MB", 10_000_000),
    ],
)
def test_parse_size(text: int | str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["10XB", "-5", "1.5.3MB", "MB", "", "10MB extra", "1e3", "ten"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_size(text)
    assert str(caught.value) == (
        f"{text!r} is not a size: use a number of bytes or a number with "
        "B, KB, MB, GB, KiB, MiB or GiB"
    )


def test_parse_size_rejects_negative_ints_and_fractions_of_a_byte() -> None:
    with pytest.raises(ValueError, match=r"^-1 is not a size: sizes cannot be negative$"):
        parse_size(-1)
    with pytest.raises(ValueError, match=r"^'0.1KiB' is not a whole number of bytes$"):
        parse_size("0.1KiB")
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (30, 30.0),
        (1.5, 1.5),
        (0, 0.0),
        ("30", 30.0),
        ("750ms", 0.75),
        ("30s", 30.0),
        ("1.5s", 1.5),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("2H", 7200.0),
        (".5s", 0.5),
    ],
)
def test_parse_duration(text: int | float | str, expected: float) -> None:
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["10 minutes", "-1s", "1h30m", "s", "", "10d", "fast"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == (
        f"{text!r} is not a duration: use a number of seconds or a number with ms, s, m or h"
    )


def test_parse_duration_rejects_negative_numbers() -> None:
    with pytest.raises(ValueError, match=r"^-2 is not a duration: durations are 0 or more"):
        parse_duration(-2)
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(float("inf"))


@pytest.mark.parametrize(
    ("size", "text"),
    [(10_000_000, "10MB"), (1024**2, "1MiB"), (1500, "1500B"), (0, "0B"), (16384, "16KiB")],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.75, "750ms"),
        (30, "30s"),
        (600, "10m"),
        (5400, "90m"),
        (7200, "2h"),
        (1.5, "1.5s"),
        (0, "0s"),
        (0.05, "50ms"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)
