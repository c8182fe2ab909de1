"""The compiled trie and its walk: State nodes, the Route each method table points at, and
the Match or NoMatch a walk ends in. Internal to gateway.router (trie.py builds and fronts it);
nothing here changes after build, so one walk never sees another's state."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from gateway.errors import GatewayError
from gateway.router.converters import REJECT, Convert
from gateway.router.patterns import CatchAll, Pattern

T = TypeVar("T")

# Method-table key that no request method can be (a space is not a token character): it
# holds the route a 405 names, so that the 405 pass is the same walk as the match itself.
ANY_METHOD = "<any method>"


class Match(Generic[T]):
    """A matched route: its target, converted params, the raw decoded segments a catch-all
    consumed (() without one; a '/' in them came from %2F, never from a separator)."""

    __slots__ = ("params", "rest", "route_pattern", "target")

    def __init__(
        self, target: T, params: dict[str, Any], rest: tuple[str, ...], route_pattern: str
    ) -> None:
        self.target = target
        self.params = params
        self.rest = rest
        self.route_pattern = route_pattern

    def __repr__(self) -> str:
        return f"Match({self.route_pattern!r}, params={self.params!r}, rest={self.rest!r})"


class NoMatch(GatewayError):
    """The request matched no route; the subclass says what to answer."""


class NotFound(NoMatch):
    """No route matches the path (for any method), nor does the path with its slash toggled."""


class MethodNotAllowed(NoMatch, Generic[T]):
    """Routes match the path but none takes the method. `allow` is the Allow header value of
    the first node that matched the path (its methods sorted, HEAD wherever GET is, OPTIONS
    always); `target` is that node's GET route, else its first in Allow (for CORS, OPTIONS)."""

    def __init__(self, allow: str, target: T) -> None:
        super().__init__(allow)
        self.allow = allow
        self.target = target


class TrailingSlashRedirect(NoMatch):
    """Nothing matches, but `segments` (the path with its trailing slash toggled) does."""

    def __init__(self, segments: tuple[str, ...]) -> None:
        super().__init__(segments)
        self.segments = segments


class Route(Generic[T]):
    """One added route as the matcher sees it. `allow` is shared by its node's routes."""

    __slots__ = ("allow", "catchall_at", "catchall_name", "names", "target", "text")

    def __init__(self, target: T, pattern: Pattern) -> None:
        self.target = target
        self.text = pattern.text
        self.allow = ""
        last = pattern.parts[-1]
        self.catchall_at = len(pattern.parts) - 1 if isinstance(last, CatchAll) else -1
        self.catchall_name = last.name if isinstance(last, CatchAll) else ""
        self.names = pattern.param_names[:-1] if self.catchall_at >= 0 else pattern.param_names

    def matched(self, segments: tuple[str, ...], values: list[object]) -> Match[T]:
        names = self.names
        # A dict display costs a quarter of dict(zip()): routes have one or two parameters.
        n = len(values)
        if n == 1:
            params: dict[str, Any] = {names[0]: values[0]}
        elif n == 2:
            params = {names[0]: values[0], names[1]: values[1]}
        else:
            params = dict(zip(names, values)) if n else {}  # noqa: B905 (same length: the walk)
        if self.catchall_at < 0:
            return Match(self.target, params, (), self.text)
        rest = segments[self.catchall_at :]
        params[self.catchall_name] = "/".join(rest)
        return Match(self.target, params, rest, self.text)


Table = dict[str, Route[T]]


class State(Generic[T]):
    """A trie node. `simple` means static edges only: a miss below it is a miss here, so the
    walk follows it in a loop instead of recursing for a backtrack that cannot happen."""

    __slots__ = ("catchall", "dynamic", "methods", "simple", "static")

    def __init__(
        self,
        static: dict[str, State[T]],
        dynamic: tuple[tuple[Convert | None, State[T]], ...],
        catchall: Table[T] | None,
        methods: Table[T],
    ) -> None:
        self.static = static
        self.dynamic = dynamic
        self.catchall = catchall
        self.methods = methods
        self.simple = not dynamic and catchall is None


def walk(
    state: State[T], segments: tuple[str, ...], i: int, method: str, values: list[object]
) -> Route[T] | None:
    """The first route, in priority order, that matches segments[i:] and takes `method`.
    Converted values are pushed on `values`; on a miss it is left as it was found."""
    n = len(segments)
    while i < n:
        segment = segments[i]
        child = state.static.get(segment)
        if state.simple:
            if child is None:
                return None
            state = child
            i += 1
            continue
        # Alternatives remain here, so each try recurses to come back on a miss; a try on
        # the last segment is just a table lookup, which saves a call in the commonest case.
        last = i + 1 == n
        if child is not None:
            found = (
                child.methods.get(method) if last else walk(child, segments, i + 1, method, values)
            )
            if found is not None:
                return found
        for convert, child in state.dynamic:
            # str is the commonest converter and the cheapest: inline, without a call.
            value = (segment or REJECT) if convert is None else convert(segment)
            if value is not REJECT:
                values.append(value)
                found = (
                    child.methods.get(method)
                    if last
                    else walk(child, segments, i + 1, method, values)
                )
                if found is not None:
                    return found
                values.pop()
        return None if state.catchall is None else state.catchall.get(method)
    return state.methods.get(method)


class Tree(Generic[T]):
    """The routes of one host: `exact` answers parameterless routes with one hash lookup."""

    __slots__ = ("exact", "root")

    def __init__(self, root: State[T], exact: dict[tuple[str, ...], Table[T]]) -> None:
        self.root = root
        self.exact = exact

    def lookup(
        self, method: str, segments: tuple[str, ...], values: list[object]
    ) -> Route[T] | None:
        table = self.exact.get(segments)
        # An all-static route is first in priority order, so a hit is the answer; a miss
        # may still be taken by a parameter route that has the method.
        route = None if table is None else table.get(method)
        return walk(self.root, segments, 0, method, values) if route is None else route
