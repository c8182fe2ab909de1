"""A seeded, deterministic mutation fuzzer for the request parser: the vectors of vectors.py
broken one to three ways at a time (tests/http/fuzz_mutations.py), each input checked for:
no exception but ProtocolError, a refusal status RFC 9112 calls for, the same events and
verdict fed whole, byte by byte and in random splits, and agreement with a strict reference
reading (tests/http/fuzz_reference.py) on where each message ends and whether it is
acceptable: a disagreement there is what request smuggling is made of."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from gateway.errors import HTTPError, ProtocolError
from gateway.http.events import NEED_DATA, PAUSED, Data, EndOfMessage, RequestHead, ResponseHead
from gateway.http.parser import RequestParser
from gateway.http.response import ResponseParser
from tests.http.fuzz_mutations import mutate, random_splits
from tests.http.fuzz_reference import read_requests, read_responses
from tests.http.response_vectors import INVALID as RESPONSE_INVALID
from tests.http.response_vectors import VALID as RESPONSE_VALID
from tests.http.vectors import INVALID, SMALL, VALID

SEED = 9112
CASES = 4000
BYTEWISE_EVERY = 5  # every fifth input is also fed a byte at a time (the slow way)
# What RFC 9112 / 9110 answer a request the server cannot take: malformed (400), body too
# large (413), target too long (414), expectation (417), header fields too large (431),
# unknown transfer coding or CONNECT (501), version (505).
REFUSALS = {400, 413, 414, 417, 431, 501, 505}
DEFAULTS = {
    "max_request_line": 8192,
    "max_header_bytes": 16384,
    "max_headers": 100,
    "max_body_bytes": 10 * 1024 * 1024,
}

Verdict = list[tuple[object, ...]]


def gateway_verdict(limits: dict[str, Any], pieces: Iterable[bytes]) -> Verdict:
    """The parser's events in fuzz_reference's shape (Data merged), then ("error", status)
    or ("need data",). Any exception but ProtocolError propagates."""
    parser = RequestParser(**limits)
    out: Verdict = []
    body = bytearray()
    try:
        for piece in pieces:
            parser.feed(piece)
            while (event := parser.next_event()) is not NEED_DATA:
                if event is PAUSED:
                    parser.start_next()
                elif isinstance(event, Data):
                    assert event.data, "an empty Data event"
                    body += event.data
                elif isinstance(event, RequestHead):
                    fields = tuple(event.headers.items())
                    version = event.http_version
                    head = ("head", event.method, event.target, version, fields)
                    out.append((*head, event.content_length, event.chunked))
                else:
                    assert isinstance(event, EndOfMessage)
                    trailers = tuple(event.trailers.items()) if event.trailers else None
                    out.append(("end", bytes(body), trailers))
                    body.clear()
    except ProtocolError as error:
        return [*out, ("error", error.status)]
    return [*out, ("need data",)]


def corpus() -> list[tuple[bytes, dict[str, Any]]]:
    """(input, limits) pairs: every vector as it is, then CASES seeded mutations of them,
    mostly of valid ones and mostly one mutation at a time, so that many stay acceptable."""
    valid = [(v.raw, {**DEFAULTS, **v.limits}) for v in VALID if len(v.raw) < 600]
    invalid = [(v.raw, {**DEFAULTS, **v.limits}) for v in INVALID if len(v.raw) < 600]
    rng = random.Random(SEED)
    cases = valid + invalid
    for _ in range(CASES):
        raw, limits = rng.choice(valid if rng.random() < 0.75 else invalid)
        raw = mutate(raw, rng, 1 if rng.random() < 0.6 else 3)
        cases.append((raw, limits if rng.random() < 0.8 else SMALL_LIMITS))
    return cases


SMALL_LIMITS = {**DEFAULTS, **SMALL}


def check(raw: bytes, limits: dict[str, Any], rng: random.Random, bytewise: bool) -> str | None:
    """What is wrong with the parser's reading of `raw`, or None."""
    try:
        whole = gateway_verdict(limits, [raw])
        ways = [("random split", random_splits(raw, rng))] if len(raw) > 1 else []
        if bytewise:
            ways.append(("byte at a time", [raw[i : i + 1] for i in range(len(raw))]))
        splits = [(how, gateway_verdict(limits, pieces)) for how, pieces in ways]
    except HTTPError as error:
        return f"an HTTPError outside ProtocolError: {error!r}"
    except Exception as error:  # the finding itself: anything else escaped the parser
        return f"raised {error!r}"
    if whole[-1][0] == "error" and whole[-1][1] not in REFUSALS:
        return f"refused with {whole[-1][1]}, not one of {sorted(REFUSALS)}"
    for how, verdict in splits:
        if verdict != whole:
            return f"{how}: {verdict[-3:]} but whole: {whole[-3:]}"
    reference = read_requests(raw, limits)
    if _framing_only(reference) != _framing_only(whole):
        return f"the strict reference reads {reference[-3:]}, the parser {whole[-3:]}"
    return None


def _framing_only(verdict: Verdict) -> Verdict:
    """The verdict without the refusal's status: with two faults in one input, which one
    speaks is a choice (the parser's is the earliest byte's); the vectors pin the status."""
    return [("error",) if event[0] == "error" else event for event in verdict]


def test_mutated_requests_keep_the_invariants() -> None:
    rng = random.Random(SEED)
    found = []
    cases = corpus()
    for i, (raw, limits) in enumerate(cases):
        problem = check(raw, limits, rng, bytewise=i % BYTEWISE_EVERY == 0)
        if problem is not None:
            found.append(
                f"{raw[:300]!r} ({'small' if limits == SMALL_LIMITS else 'default'} "
                f"limits): {problem}"
            )
    assert not found, f"{len(found)} of {len(cases)} inputs:\n" + "\n".join(found[:15])


RESPONSE_CASES = 2500
METHODS = ("GET", "GET", "HEAD", "POST")


def response_verdict(
    method: str, limits: dict[str, Any], pieces: Iterable[bytes], eof: bool
) -> Verdict:
    """The response parser's events in read_responses' shape."""
    parser = ResponseParser(**{**limits, "max_body_bytes": limits["max_body_bytes"]})
    parser.expect(method)
    out: Verdict = []
    body = bytearray()
    try:
        for piece in [*pieces, None] if eof else pieces:
            if piece is None:
                parser.feed_eof()
            else:
                parser.feed(piece)
            while (event := parser.next_event()) is not NEED_DATA:
                if event is PAUSED:
                    if out[-1][0] == "head":  # a 101: the rest is not HTTP
                        return [*out, ("switched",)]
                    head = parser._head
                    if head is not None and not head.keep_alive:
                        return [*out, ("closes",)]
                    parser.start_next()
                    parser.expect(method)
                elif isinstance(event, Data):
                    assert event.data, "an empty Data event"
                    body += event.data
                elif isinstance(event, ResponseHead):
                    fields = tuple(event.headers.items())
                    out.append(("head", event.status, fields, event.chunked))
                else:
                    assert isinstance(event, EndOfMessage)
                    trailers = tuple(event.trailers.items()) if event.trailers else None
                    out.append(("end", bytes(body), trailers))
                    body.clear()
    except ProtocolError as error:
        assert error.status == 502, f"a response refused with {error.status}, not 502"
        return [*out, ("error",)]
    return [*out, ("need data",)]


def response_corpus() -> list[tuple[bytes, str, dict[str, Any], bool]]:
    bases = [
        (v.raw, v.method, {**RESPONSE_DEFAULTS, **v.limits}, v.eof)
        for v in [*RESPONSE_VALID, *RESPONSE_INVALID]
        if v.method != "CONNECT"
    ]
    rng = random.Random(SEED)
    cases = list(bases)
    for _ in range(RESPONSE_CASES):
        raw, method, limits, eof = rng.choice(bases)
        raw = mutate(raw, rng, 1 if rng.random() < 0.6 else 3)
        if rng.random() < 0.3:
            method = rng.choice(METHODS)
        cases.append((raw, method, limits, eof if rng.random() < 0.7 else not eof))
    return cases


RESPONSE_DEFAULTS = {"max_header_bytes": 16384, "max_headers": 100, "max_body_bytes": 1 << 62}


def check_response(
    raw: bytes, method: str, limits: dict[str, Any], eof: bool, rng: random.Random
) -> str | None:
    try:
        whole = response_verdict(method, limits, [raw], eof)
        ways = [("random split", random_splits(raw, rng))] if len(raw) > 1 else []
        ways.append(("byte at a time", [raw[i : i + 1] for i in range(len(raw))]))
        for how, pieces in ways:
            verdict = response_verdict(method, limits, pieces, eof)
            if verdict != whole:
                return f"{how}: {verdict[-3:]} but whole: {whole[-3:]}"
    except Exception as error:  # the finding itself: anything else escaped the parser
        return f"raised {error!r}"
    reference = read_responses(raw, method, limits, eof)
    if reference != whole:
        return f"the strict reference reads {reference[-3:]}, the parser {whole[-3:]}"
    return check_read_whole(raw, method, limits, whole)


def check_read_whole(raw: bytes, method: str, limits: dict[str, Any], whole: Verdict) -> str | None:
    """read_whole (the proxy's one-step path) takes a response only if it is exactly one
    final response with a Content-Length or no body, and reads it as the events do."""
    parser = ResponseParser(**limits)
    parser.expect(method)
    try:
        taken = parser.read_whole(raw)
    except Exception as error:
        return f"read_whole raised {error!r}"
    if taken is None:
        return None
    head, body = taken
    fields = tuple(head.headers.items())
    if whole[:2] != [("head", head.status, fields, False), ("end", body, None)]:
        return f"read_whole took {head.status} {body[:40]!r}, the events say {whole[:2]}"
    if len(whole) > 3 or parser.next_event() is not PAUSED:
        return f"read_whole took one response of {whole}"
    return None


def test_mutated_responses_keep_the_invariants() -> None:
    rng = random.Random(SEED)
    found = []
    cases = response_corpus()
    for raw, method, limits, eof in cases:
        problem = check_response(raw, method, limits, eof, rng)
        if problem is not None:
            found.append(f"{raw[:300]!r} ({method}, eof={eof}): {problem}")
    assert not found, f"{len(found)} of {len(cases)} inputs:\n" + "\n".join(found[:15])
