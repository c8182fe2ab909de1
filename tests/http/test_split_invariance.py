"""The parser's verdict does not depend on how the bytes are split: every input of a mutation
corpus (the vectors of vectors.py, and those vectors broken in one or two ways at once) gives
the same events and the same ProtocolError status fed whole, byte by byte and in seeded
random splits. Bounded: a fixed seed and a fixed number of inputs."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from typing import Any

from gateway.errors import ProtocolError
from gateway.http.events import NEED_DATA, PAUSED, Data, EndOfMessage, RequestHead
from gateway.http.parser import RequestParser
from tests.http.vectors import INVALID, SMALL, VALID

SEED = 9110
PAIRS = 2500  # two-fault inputs drawn from all the pairs, with SEED
BYTEWISE_UP_TO = 3000  # longer inputs are split at random only, to keep this test quick

Mutation = Callable[[bytes], bytes]


def after_first_line(raw: bytes, insert: bytes) -> bytes:
    at = raw.find(b"\r\n")
    return raw + insert if at < 0 else raw[: at + 2] + insert + raw[at + 2 :]


def long_line(raw: bytes) -> bytes:
    at = raw.find(b" /")
    return raw if at < 0 else raw[: at + 2] + b"a" * 40 + raw[at + 2 :]


MUTATIONS: dict[str, Mutation] = {
    "long line": long_line,
    "big header": lambda raw: after_first_line(raw, b"X-Big: " + b"b" * 80 + b"\r\n"),
    "many headers": lambda raw: after_first_line(raw, b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"),
    "bare lf in line": lambda raw: raw[:2] + b"\n" + raw[2:],
    "bare lf in a field": lambda raw: after_first_line(raw, b"X-A: a\nb\r\n"),
    "bare cr in a field": lambda raw: after_first_line(raw, b"X-A: a\rb\r\n"),
    "nul in a field": lambda raw: after_first_line(raw, b"X-A: a\x00b\r\n"),
    "bad version": lambda raw: raw.replace(b"HTTP/1.1\r\n", b"HTTP/1.x\r\n", 1),
}


def corpus() -> list[tuple[str, bytes, dict[str, Any]]]:
    inputs = [(v.name, v.raw, v.limits) for v in [*VALID, *INVALID]]
    bases = [v.raw for v in [*VALID, *INVALID] if len(v.raw) < 400]
    for name, mutate in MUTATIONS.items():
        inputs += [(f"{name}: {i}", mutate(raw), SMALL) for i, raw in enumerate(bases)]
    pairs = [
        (f"{a} + {b}: {i}", MUTATIONS[b](MUTATIONS[a](raw)), SMALL)
        for (a, b) in itertools.permutations(MUTATIONS, 2)
        for i, raw in enumerate(bases)
    ]
    return inputs + random.Random(SEED).sample(pairs, PAIRS)


def verdict(raw: bytes, limits: dict[str, Any], pieces: Iterator[bytes]) -> list[object]:
    """The events, with Data merged (how a body is cut is not part of the verdict), ending
    in ("error", status) or ("need data",)."""
    parser = RequestParser(**limits)
    out: list[object] = []
    body = bytearray()
    try:
        for piece in pieces:
            parser.feed(piece)
            while (event := parser.next_event()) is not NEED_DATA:
                if event is PAUSED:
                    parser.start_next()
                elif isinstance(event, Data):
                    body += event.data
                elif isinstance(event, RequestHead):
                    out.append(event._replace(headers=event.headers.items()))
                else:
                    assert isinstance(event, EndOfMessage)
                    trailers = event.trailers.items() if event.trailers else None
                    out.append(("end", bytes(body), trailers))
                    body.clear()
    except ProtocolError as error:
        return [*out, ("error", error.status)]
    return [*out, ("need data",)]


def splits(raw: bytes, rng: random.Random) -> Iterator[tuple[str, Iterator[bytes]]]:
    if len(raw) <= BYTEWISE_UP_TO:
        yield "bytes", (raw[i : i + 1] for i in range(len(raw)))
    for round_ in range(3):
        cuts = sorted(rng.sample(range(1, len(raw)), min(len(raw) - 1, 1 + round_ * 4)))
        yield f"random{round_}", (raw[a:b] for a, b in itertools.pairwise([0, *cuts, len(raw)]))


def test_verdict_does_not_depend_on_the_split() -> None:
    rng = random.Random(SEED)
    disagreements: list[str] = []
    inputs = corpus()
    for name, raw, limits in inputs:
        expected = verdict(raw, limits, iter([raw]))
        for how, pieces in splits(raw, rng):
            got = verdict(raw, limits, pieces)
            if got != expected:
                disagreements.append(f"{name!r} {how}: {expected[-1]} whole, {got[-1]} split")
                break
    assert not disagreements, (
        f"{len(disagreements)} of {len(inputs)} inputs disagree:\n" + "\n".join(disagreements[:20])
    )
