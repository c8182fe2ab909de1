"""The compiled router. RouterBuilder collects routes and rejects any two that can never be
told apart; build() compiles them, per host, into a trie of State nodes plus a dict for
routes without parameters. A Router is never changed after build, so one serves every thread."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gateway.errors import GatewayError
from gateway.http.grammar import TOKEN
from gateway.router.converters import CONVERTERS, Convert, convert_str
from gateway.router.matcher import (
    ANY_METHOD,
    Match,
    MethodNotAllowed,
    NoMatch,
    NotFound,
    Route,
    State,
    Table,
    TrailingSlashRedirect,
    Tree,
    walk,
)
from gateway.router.patterns import CatchAll, Param, Part, Pattern, parse_host, parse_pattern

__all__ = [
    "Conflict",
    "Match",
    "MethodNotAllowed",
    "NoMatch",
    "NotFound",
    "RouteConflicts",
    "Router",
    "RouterBuilder",
    "TrailingSlashRedirect",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two routes no request could tell apart: `route` ("GET,POST /a/{x}") added at `where`
    conflicts with `other`, added earlier at `other_where`, for `methods`. The `where`
    values are whatever the caller passed to add(): the router only carries them."""

    route: str
    where: Any
    other: str
    other_where: Any
    methods: tuple[str, ...]


class RouteConflicts(GatewayError):
    """build() found conflicting routes: every one of them, in the order added."""

    def __init__(self, conflicts: Iterable[Conflict]) -> None:
        self.conflicts = tuple(conflicts)
        super().__init__(
            "\n".join(f"route {c.route!r} conflicts with {c.other!r}" for c in self.conflicts)
        )


class Router(Generic[T]):
    """Compiled routes. The Host header is matched lowercased, without its port or a trailing
    dot. Routes for that exact host are tried first, then wildcard hosts, longest first
    ("*.example.com" takes one or more labels before ".example.com", never "example.com"
    itself), then host-less routes: a host-specific miss falls through to them."""

    __slots__ = (
        "_default",
        "_default_only",
        "_exact_hosts",
        "_hosted",
        "_redirect_slashes",
        "_wild_hosts",
    )

    def __init__(self, trees: dict[str | None, Tree[T]], redirect_slashes: bool) -> None:
        self._default = trees.get(None) or Tree(State({}, (), None, {}), {})
        self._exact_hosts = {h: t for h, t in trees.items() if h and not h.startswith("*.")}
        wild = [(h[1:], t) for h, t in trees.items() if h and h.startswith("*.")]
        self._wild_hosts = sorted(wild, key=lambda item: -len(item[0]))
        self._default_only = (self._default,)
        self._hosted = bool(self._exact_hosts or self._wild_hosts)
        self._redirect_slashes = redirect_slashes

    def match(self, host: str | None, method: str, segments: tuple[str, ...]) -> Match[T]:
        """The route for a request: `host` is the Host header as sent (None if absent) and
        `segments` come from split_path. Raises NotFound, MethodNotAllowed or
        TrailingSlashRedirect."""
        trees = self._trees_for(host) if self._hosted else self._default_only
        for tree in trees:
            # tree.lookup, inlined: a call is a tenth of the time budget of a match.
            table = tree.exact.get(segments)
            route = None if table is None else table.get(method)
            if route is not None:
                return Match(route.target, {}, (), route.text)
            values: list[object] = []
            route = walk(tree.root, segments, 0, method, values)
            if route is not None:
                return route.matched(segments, values)
        raise self._miss(trees, method, segments)

    def _trees_for(self, host: str | None) -> tuple[Tree[T], ...]:
        name = _host_name(host)
        exact = self._exact_hosts.get(name)
        trees = [exact] if exact is not None else []
        for suffix, tree in self._wild_hosts:
            # len > len(suffix): "*.example.com" wants at least one label before the suffix.
            if name.endswith(suffix) and len(name) > len(suffix):
                trees.append(tree)
        trees.append(self._default)
        return tuple(trees)

    def _miss(self, trees: tuple[Tree[T], ...], method: str, segments: tuple[str, ...]) -> NoMatch:
        # 405 wins over a slash redirect: the path as sent does name a resource.
        for tree in trees:
            route = tree.lookup(ANY_METHOD, segments, [])
            if route is not None:
                return MethodNotAllowed(route.allow, route.target)
        other = _toggle_slash(segments) if self._redirect_slashes else None
        if other is not None:
            for tree in trees:
                if tree.lookup(method, other, []) is not None:
                    return TrailingSlashRedirect(other)
        return NotFound()


def _host_name(host: str | None) -> str:
    """The Host header as routes name it: lowercase, no port, no trailing dot ("" if none)."""
    if not host:
        return ""
    name = host.lower()
    if name.startswith("["):
        return name[: name.find("]") + 1]  # "[::1]:8000" -> "[::1]"
    return name.partition(":")[0].removesuffix(".")


def _toggle_slash(segments: tuple[str, ...]) -> tuple[str, ...] | None:
    if not segments:
        return None
    if segments[-1] == "":
        return segments[:-1] if len(segments) > 1 else None  # "/" has no slash to remove
    return (*segments, "")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    """A route as added, kept for conflict messages."""

    pattern: Pattern
    methods: tuple[str, ...]
    target: T
    host: str | None
    where: Any

    def describe(self) -> str:
        return f"{','.join(self.methods)} {self.host or ''}{self.pattern.text}"


class RouterBuilder(Generic[T]):
    """Collects routes in any order; build() compiles them. `redirect_slashes=False` is the
    "strict" trailing-slash mode: no TrailingSlashRedirect, a miss is a miss."""

    def __init__(self, *, redirect_slashes: bool = True) -> None:
        self.redirect_slashes = redirect_slashes
        self._entries: list[_Entry[T]] = []

    def add(
        self,
        pattern: Pattern | str,
        methods: Iterable[str],
        target: T,
        *,
        host: str | None = None,
        where: Any = None,
    ) -> None:
        """Add a route. A bad pattern or host raises PatternError and bad methods ValueError
        at once; conflicts between routes are found by build(). `where` is any value the
        caller wants back in a Conflict (the config's place of the route)."""
        parsed = parse_pattern(pattern) if isinstance(pattern, str) else pattern
        if isinstance(methods, str):
            raise TypeError(f"methods must be a list of names, like [{methods!r}], not a str")
        names = tuple(dict.fromkeys(methods))
        if not names:
            raise ValueError(f"route {parsed.text!r} has no methods: list one, like ['GET']")
        for name in names:
            if not TOKEN.fullmatch(name):
                raise ValueError(f"invalid method {name!r}: a method is a token, like 'GET'")
        host_key = parse_host(host) if host is not None else None
        self._entries.append(_Entry(parsed, names, target, host_key, where))

    def build(self) -> Router[T]:
        """Compile the routes; RouteConflicts lists every pair that can never be told apart."""
        roots: dict[str | None, _Node[T]] = {}
        issues: list[Conflict] = []
        for entry in self._entries:
            node = roots.setdefault(entry.host, _Node())
            for part in entry.pattern.parts:
                node = node.child(part)
            issues.extend(_conflicts(entry, node.entries))
            node.entries.append(entry)
        if issues:
            raise RouteConflicts(issues)
        trees = {host: _compile_tree(root) for host, root in roots.items()}
        return Router(trees, self.redirect_slashes)


def _conflicts(entry: _Entry[T], earlier: list[_Entry[T]]) -> Iterator[Conflict]:
    # Same node means same static values and converters at every position: no request
    # could ever reach the later route for a method both take.
    for other in earlier:
        overlap = tuple(m for m in entry.methods if m in other.methods)
        if overlap:
            yield Conflict(entry.describe(), entry.where, other.describe(), other.where, overlap)


class _Node(Generic[T]):
    """A trie node while building: edges keyed by static value or converter name."""

    __slots__ = ("catchall", "entries", "params", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node[T]] = {}
        self.params: dict[str, _Node[T]] = {}
        self.catchall: _Node[T] | None = None
        self.entries: list[_Entry[T]] = []

    def child(self, part: Part) -> _Node[T]:
        if isinstance(part, Param):
            return self.params.setdefault(part.converter, _Node())
        if isinstance(part, CatchAll):
            if self.catchall is None:
                self.catchall = _Node()
            return self.catchall
        return self.static.setdefault(part.value, _Node())


def _compile_tree(root: _Node[T]) -> Tree[T]:
    exact: dict[tuple[str, ...], Table[T]] = {}
    return Tree(_compile(root, (), exact), exact)


def _compile(
    node: _Node[T], path: tuple[str, ...] | None, exact: dict[tuple[str, ...], Table[T]]
) -> State[T]:
    """Freeze `node`; `path` is its static values from the root, None below a parameter."""
    methods = _method_table(node.entries)
    if path and methods:
        exact[path] = methods
    static = {
        value: _compile(child, None if path is None else (*path, value), exact)
        for value, child in node.static.items()
    }
    dynamic = tuple(
        (_inline_str(name), _compile(child, None, exact))
        for name, child in sorted(node.params.items(), key=lambda item: CONVERTERS[item[0]][0])
    )
    catchall = None if node.catchall is None else _method_table(node.catchall.entries) or None
    return State(static, dynamic, catchall, methods)


def _inline_str(name: str) -> Convert | None:
    # walk() does str's check itself (None): it is the commonest converter, and a call
    # would cost more than the check.
    convert = CONVERTERS[name][1]
    return None if convert is convert_str else convert


def _method_table(entries: list[_Entry[T]]) -> Table[T]:
    """Method -> route for one node, with HEAD answered by GET unless added itself, the
    node's Allow value on each route, and under ANY_METHOD the route a 405 names."""
    table: Table[T] = {}
    for entry in entries:
        route = Route(entry.target, entry.pattern)
        for method in entry.methods:
            table.setdefault(method, route)
    if not table:
        return table
    if "GET" in table:
        table.setdefault("HEAD", table["GET"])
    allow = ", ".join(sorted({*table, "OPTIONS"}))
    for route in table.values():
        route.allow = allow
    # The 405 target must not depend on add order: GET's route, else the first in Allow.
    table[ANY_METHOD] = table.get("GET") or table[min(table)]
    return table
