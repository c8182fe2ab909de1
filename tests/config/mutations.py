"""Seeded mutations of a valid gateway.toml for the config fuzzer: each takes the config's
data (and text) and a random.Random, and returns the broken file as bytes with a short name
of what was done. Structural ones edit the parsed data and write it back with tomli_w;
syntax ones edit the text, so TOML's own errors (and their line numbers) come into play."""

from __future__ import annotations

import copy
import datetime
import random
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

Data = dict[str, Any]
Spot = tuple[Any, Any, tuple[Any, ...]]  # (container, key or index, key path) of one value
Mutation = Callable[[Data, str, random.Random, Path], "Case"]


@dataclass
class Case:
    """One broken file: what was done, its bytes, and for a value set at one key, the key
    path and the value (its error must quote it)."""

    what: str
    raw: bytes
    path: tuple[Any, ...] = ()
    value: object = None


# One value of each TOML type, and numbers out of every range.
TYPES: list[object] = [
    "x",
    "",
    7,
    1.5,
    True,
    False,
    [],
    ["a", 1],
    [{"a": 1}],
    {},
    {"a": 1},
    datetime.datetime(2026, 12, 1, 5, 0, tzinfo=datetime.UTC),
    datetime.date(2026, 12, 1),
    datetime.time(5, 0),
]
NUMBERS: list[object] = [-1, 0, -0.5, 0.0, 2**63 - 1, -(2**63), 1e308, float("inf"), float("nan")]
# Strings that are wrong as durations, sizes, addresses, ports, paths, patterns, globs,
# handler refs, header names or values, variable references.
STRINGS = [
    "10XB",
    "-5s",
    "1e3",
    "5 minutes",
    "1.5B",
    "localhost",
    "127.0.0.1:99999",
    "127.0.0.1:-1",
    "[::1]",
    "[::g]:80",
    ":80",
    "a:b:c",
    "/a/{",
    "/a/{x:nope}",
    "/{x}/{x}",
    "{x}",
    "relative/path",
    "../../etc/passwd",
    "/",
    "**/[",
    "*.[",
    "[",
    "api.mod:",
    ":fn",
    "a b:c",
    "a\r\nb: c",
    "a\nb",
    "a\x00b",
    "a\x7fb",
    "caf\u00e9",
    "snow\u2603man",
    "\ud7ff",
    " ",
    "${",
    "${}",
    "${1BAD}",
    "${A-B}",
    "${A:-${B}}",
    "${UNSET_FUZZ_VAR}",
    "$${X}",
    "${X:-}",
    "x" * 5000,
]


def spots(node: object, path: tuple[Any, ...] = ()) -> Iterator[Spot]:
    """Every (container, key, path) below `node`, depth first, in file order."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key, (*path, key)
            yield from spots(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield node, index, (*path, index)
            yield from spots(value, (*path, index))


def tables(node: object) -> list[dict[str, Any]]:
    return [node] * isinstance(node, dict) + [
        container[key] for container, key, _ in spots(node) if isinstance(container[key], dict)
    ]


def dump(data: Data) -> bytes:
    return tomli_w.dumps(data).encode()


def set_value(pool: list[object], label: str) -> Mutation:
    def mutate(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
        found = list(spots(data))
        if not found:
            data["server"] = {}
            found = list(spots(data))
        container, key, path = rng.choice(found)
        value = copy.deepcopy(rng.choice(pool))
        container[key] = value
        return Case(f"{label} {key!r} = {value!r}"[:120], dump(data), path, value)

    return mutate


def unknown_key(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    table = rng.choice(tables(data))
    keys = [key for key in table if isinstance(key, str)] or ["listen"]
    word = rng.choice(keys)
    spelling = rng.choice(
        [
            word[1:] or "zz",
            word[:1] + word[2:] + word[1:2],
            word.upper(),
            word + "s",
            word.replace("_", "-"),
            "zzz",
            "",
            "caf\u00e9",
            "a.b",
        ]
    )
    table[spelling] = table.get(word, 1)
    return Case(f"unknown key {spelling!r}", dump(data))


def drop_key(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    found = [(c, k) for c, k, _ in spots(data) if isinstance(c, dict)]
    if not found:
        return Case("empty data", dump(data))
    container, key = rng.choice(found)
    del container[key]
    return Case(f"dropped {key!r}", dump(data))


def reshape(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    """A table turned into an array of tables, or an array of tables into a table."""
    found = [
        (c, k)
        for c, k, _ in spots(data)
        if isinstance(c[k], dict) or (isinstance(c[k], list) and c[k] and isinstance(c[k][0], dict))
    ]
    if not found:
        return Case("nothing to reshape", dump(data))
    container, key = rng.choice(found)
    value = container[key]
    container[key] = value[0] if isinstance(value, list) else [value, copy.deepcopy(value)]
    return Case(f"reshaped {key!r}", dump(data))


def duplicate_route(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    routes = data.get("route")
    if not isinstance(routes, list) or not routes:
        routes = [{"path": "/d", "respond": {"body": "a"}}]
    data["route"] = [*routes, copy.deepcopy(rng.choice(routes))]
    return Case("duplicate [[route]]", dump(data))


def bad_headers(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    """A headers table (on a route, a mount or a respond) with a bad name or value."""
    name, value = rng.choice(
        [("x-a", rng.choice(STRINGS)), (rng.choice(STRINGS) or "e", "v"), ("x-a", 5), ("x", [])]
    )
    owners = [t for t in tables(data) if "path" in t or "prefix" in t or "status" in t]
    owner = rng.choice(owners) if owners else data

    owner["headers"] = {name: value}
    return Case(f"headers {name!r} = {value!r}"[:120], dump(data))


def include(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    """`include`: missing files, cycles, broken files, wrong types."""
    tag = f"fuzzinc/{rng.randrange(10**9)}"
    kind = rng.choice(["missing", "cycle", "self", "broken", "type", "main-keys", "bytes"])
    path = folder / tag
    path.mkdir(parents=True, exist_ok=True)
    pattern: object = f"{tag}/a.toml"
    if kind == "missing":
        pattern = f"{tag}/nope.toml"
    elif kind == "cycle":
        (path / "a.toml").write_text('include = ["b.toml"]\n')
        (path / "b.toml").write_text('include = ["a.toml"]\n')
    elif kind == "self":
        (path / "a.toml").write_text('include = ["../../gateway.toml"]\n')
    elif kind == "broken":
        (path / "a.toml").write_text('[[route]]\npath = "/x\nhandler = 1\n')
    elif kind == "type":
        pattern = rng.choice([5, "", [5], {"a": 1}, [""], f"{tag}/*"])
    elif kind == "main-keys":
        (path / "a.toml").write_text("[server]\nworkers = 2\n[[route]]\npath = 5\n")
    else:
        (path / "a.toml").write_bytes(b"[[route]]\npath = '/\xff'\n")
    data["include"] = pattern if not isinstance(pattern, str) else [pattern]
    return Case(f"include {kind}", dump(data))


def moved(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    """The [[route]], [[static]] and [cors.NAME] tables moved to an included file, and one
    value there broken: its error must name that file and its line."""
    tag = f"fuzzinc/{rng.randrange(10**9)}"
    part = {key: data.pop(key) for key in ("route", "static", "cors") if key in data}
    if not part:
        part = {"route": [{"path": "/m", "respond": {"body": "m"}}]}
    broken = set_value(rng.choice([STRINGS, TYPES, NUMBERS]), "moved")(part, text, rng, folder)
    (folder / tag).mkdir(parents=True, exist_ok=True)
    (folder / tag / "part.toml").write_bytes(broken.raw)
    earlier = data.get("include")
    data["include"] = [*(earlier if isinstance(earlier, list) else []), f"{tag}/part.toml"]
    return Case(broken.what, dump(data), broken.path, broken.value)


def syntax(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    """Text edits: unclosed strings and brackets, duplicate keys and tables, truncation."""
    lines = text.split("\n")
    index = rng.randrange(len(lines))
    line = lines[index]
    kind = rng.choice(["quote", "bracket", "dup-key", "dup-table", "cut", "junk", "tab"])
    if kind == "quote":
        lines[index] = line.replace('"', "", 1) if '"' in line else line + ' "'
    elif kind == "bracket":
        lines[index] = line.replace("]", "", 1) if "]" in line else "[" + line
    elif kind == "dup-key":
        keyed = [i for i, t in enumerate(lines) if "=" in t and not t.lstrip().startswith("#")]
        index = rng.choice(keyed) if keyed else index
        lines.insert(index + 1, lines[index])
    elif kind == "dup-table":
        lines.append("[server]\n[server]")
    elif kind == "cut":
        cut = rng.randrange(len(text) + 1)
        return Case(f"cut at {cut}", text[:cut].encode())
    elif kind == "junk":
        lines[index] = line + rng.choice([" = =", " x", "}", "{", "'''", "\\", "[[", "=1"])
    else:
        lines[index] = "\t" + line + "\t# \u2603"
    return Case(f"syntax {kind} line {index + 1}", "\n".join(lines).encode())


def encoding(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    """Whole-file oddities: empty, a BOM, bytes that are not UTF-8, a NUL, CRLF lines."""
    raw = text.encode()
    at = rng.randrange(len(raw) + 1)
    kind, made = rng.choice(
        [
            ("empty", b""),
            ("whitespace", b" \n\t\n"),
            ("bom", b"\xef\xbb\xbf" + raw),
            ("latin-1", raw[:at] + b"\xe9" + raw[at:]),
            ("invalid byte", raw[:at] + b"\xff\xfe" + raw[at:]),
            ("nul", raw[:at] + b"\x00" + raw[at:]),
            ("crlf", raw.replace(b"\n", b"\r\n")),
            ("cr", raw.replace(b"\n", b"\r")),
            ("utf-16", text.encode("utf-16")),
        ]
    )
    return Case(f"encoding {kind}", made)


MUTATIONS: list[tuple[Mutation, int]] = [  # (mutation, weight)
    (set_value(TYPES, "type"), 8),
    (set_value(NUMBERS, "number"), 6),
    (set_value(STRINGS, "string"), 16),
    (unknown_key, 3),
    (drop_key, 4),
    (reshape, 3),
    (duplicate_route, 1),
    (bad_headers, 2),
    (include, 2),
    (moved, 3),
    (syntax, 5),
    (encoding, 2),
]


def mutate(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    """One mutation of the config, picked by weight; one case in four stacks two to four
    structural ones (what one broken table leaves behind can trip the next)."""
    if rng.random() < 0.25:
        return stacked(data, text, rng, folder)
    chosen = rng.choices([m for m, _ in MUTATIONS], weights=[w for _, w in MUTATIONS])[0]
    return chosen(copy.deepcopy(data), text, rng, folder)


def stacked(data: Data, text: str, rng: random.Random, folder: Path) -> Case:
    structural = [m for m, _ in MUTATIONS if m not in (syntax, encoding)]
    data = copy.deepcopy(data)
    done = []
    for _ in range(rng.randint(2, 4)):
        case = rng.choice(structural)(data, text, rng, folder)
        done.append(case.what)
        data = tomllib.loads(case.raw.decode())
    return Case(" + ".join(done)[:160], dump(data))
