"""Router benchmark: ns per match for gateway's Router, Werkzeug's Map and Starlette's route
loop, the same routes and requests for all three, in one run. Prints a table with ratios
(gateway = 1.0). Usage: .venv/bin/python bench/router.py [--quick]"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.routing import Match as StarletteMatch
from starlette.routing import Route
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

from gateway.router.paths import split_path
from gateway.router.trie import NoMatch, RouterBuilder

SIZES = (10, 100, 1000)
Matcher = Callable[[str, str], object]


def route_table(size: int) -> list[tuple[str, str, str, str]]:
    """(gateway/starlette path, werkzeug rule, method, endpoint), interleaved by resource
    as an API grows: a resource, its items, a page."""
    rows: list[tuple[str, str, str, str]] = []
    for i in range(size):
        kind, n = i % 3, i // 3
        if kind == 0:
            rows.append(
                (f"/api/v1/resource{n}/{{id:int}}", f"/api/v1/resource{n}/<int:id>", "GET", f"r{n}")
            )
        elif kind == 1:
            rows.append(
                (
                    f"/api/v1/resource{n}/{{id:int}}/items/{{item}}",
                    f"/api/v1/resource{n}/<int:id>/items/<item>",
                    "POST",
                    f"i{n}",
                )
            )
        else:
            rows.append((f"/pages/page{n}", f"/pages/page{n}", "GET", f"p{n}"))
    return rows


def requests(rows: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str | None]]:
    """(label, method, path, expected endpoint or None for a miss)."""
    last = {ep[0]: int(ep[1:]) for _, _, _, ep in rows}  # kind letter -> its last number
    middle = last["i"] // 2
    return [
        ("start: int param", "GET", "/api/v1/resource0/42", "r0"),
        ("middle: int + str", "POST", f"/api/v1/resource{middle}/42/items/abc", f"i{middle}"),
        ("end: exact", "GET", f"/pages/page{last['p']}", f"p{last['p']}"),
        ("end: int param", "GET", f"/api/v1/resource{last['r']}/7", f"r{last['r']}"),
        ("miss", "GET", "/api/v2/nothing/here", None),
    ]


def gateway(rows: list[tuple[str, str, str, str]]) -> Matcher:
    builder: RouterBuilder[str] = RouterBuilder()
    for path, _, method, endpoint in rows:
        builder.add(path, [method], endpoint)
    router = builder.build()

    def match(method: str, path: str) -> object:
        try:
            return router.match(None, method, split_path(path)).target
        except NoMatch:
            return None

    return match


def gateway_only_match(rows: list[tuple[str, str, str, str]]) -> Matcher:
    """Router.match alone, on segments split beforehand (the app gets them from Request)."""
    builder: RouterBuilder[str] = RouterBuilder()
    for path, _, method, endpoint in rows:
        builder.add(path, [method], endpoint)
    router = builder.build()
    cache: dict[str, tuple[str, ...]] = {}

    def match(method: str, path: str) -> object:
        segments = cache.get(path)
        if segments is None:
            segments = cache[path] = split_path(path)
        try:
            return router.match(None, method, segments).target
        except NoMatch:
            return None

    return match


def werkzeug(rows: list[tuple[str, str, str, str]]) -> Matcher:
    adapter = Map([Rule(rule, endpoint=ep, methods=[m]) for _, rule, m, ep in rows]).bind(
        "localhost"
    )

    def match(method: str, path: str) -> object:
        try:
            return adapter.match(path, method)[0]
        except HTTPException:
            return None

    return match


def starlette(rows: list[tuple[str, str, str, str]]) -> Matcher:
    routes = [Route(path, _endpoint(ep), methods=[m]) for path, _, m, ep in rows]

    def match(method: str, path: str) -> object:
        # Starlette's Router.app loop: the first FULL match wins, else the first PARTIAL (405).
        scope = {"type": "http", "path": path, "root_path": "", "method": method}
        partial = None
        for route in routes:
            found, child = route.matches(scope)
            if found is StarletteMatch.FULL:
                return child["endpoint"].__name__
            if found is StarletteMatch.PARTIAL and partial is None:
                partial = route
        return None

    return match


def _endpoint(name: str) -> Callable[[object], None]:
    def endpoint(request: object) -> None:
        return None

    endpoint.__name__ = name
    return endpoint


def ns_per_call(match: Matcher, method: str, path: str, budget: float) -> float:
    """Best of three, in CPU time of this process: other work on the machine then costs us
    less noise than wall time would."""
    timer = timeit.Timer(lambda: match(method, path), timer=time.process_time)
    number = 1
    while (elapsed := timer.timeit(number)) < budget / 10:
        number *= 4 if elapsed < budget / 100 else 2
    best = min([elapsed, *timer.repeat(repeat=2, number=number)])
    return best / number * 1e9


def _nothing(method: str, path: str) -> object:
    return None


COLUMNS: list[tuple[str, Callable[[list[tuple[str, str, str, str]]], Matcher]]] = [
    ("gateway", gateway),
    ("gw match only", gateway_only_match),
    ("werkzeug", werkzeug),
    ("starlette", starlette),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter timings, noisier")
    budget = 0.02 if parser.parse_args().quick else 0.08
    overhead = ns_per_call(_nothing, "GET", "/", budget)
    print(f"python {sys.version.split()[0]}; ns per match (CPU time, best of 3), less the")
    print(f"{overhead:.0f} ns the timing harness itself costs; ratio = ns / gateway ns.")
    print("gateway = split_path + Router.match; 'gw match only' = Router.match on ready segments")
    header = f"{'routes':>6}  {'request':<18}" + "".join(f"{name:>20}" for name, _ in COLUMNS)
    print(header)
    print("-" * len(header))
    for size in SIZES:
        rows = route_table(size)
        matchers = [(name, build(rows)) for name, build in COLUMNS]
        for label, method, path, expected in requests(rows):
            cells = []
            for name, match in matchers:
                got = match(method, path)
                if got != expected:
                    raise SystemExit(f"{name} matched {path!r} to {got!r}, not {expected!r}")
                cells.append(ns_per_call(match, method, path, budget) - overhead)
            base = cells[0]
            shown = "".join(f"{ns:>10,.0f} ({ns / base:>5.1f}x)" for ns in cells)
            print(f"{size:>6}  {label:<18}{shown}")


if __name__ == "__main__":
    main()
