"""The router as the app sees it: one table of requests against one route set, built in
three add orders (priority must not depend on it), then build-time conflicts and errors."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.config.routes import conflict_issue
from gateway.config.schema import Where
from gateway.router.paths import join_path, split_path
from gateway.router.patterns import PatternError, parse_pattern
from gateway.router.trie import (
    Match,
    MethodNotAllowed,
    NoMatch,
    NotFound,
    RouteConflicts,
    Router,
    RouterBuilder,
    TrailingSlashRedirect,
)

# (pattern, methods, target, host)
ROUTES: list[tuple[str, list[str], str, str | None]] = [
    ("/", ["GET"], "home", None),
    ("/about/", ["GET"], "about", None),
    ("/users", ["GET", "POST"], "users", None),
    ("/users/me", ["GET"], "me", None),
    ("/users/{id:int}", ["GET", "DELETE"], "user_by_id", None),
    ("/users/{key:uuid}", ["GET"], "user_by_key", None),
    ("/users/{name}", ["GET"], "user_by_name", None),
    ("/users/{id:int}/avatar", ["GET"], "avatar", None),
    ("/users/{name}/profile", ["GET"], "profile", None),
    ("/users/{id:int}/posts/{post}", ["GET"], "post", None),
    ("/p/exact", ["GET"], "p_exact", None),
    ("/p/{n:int}", ["GET"], "p_int", None),
    ("/p/{s}", ["GET"], "p_str", None),
    ("/p/{rest:path}", ["GET"], "p_path", None),
    ("/items/special", ["POST"], "special", None),
    ("/items/{name}", ["GET"], "item", None),
    ("/items/{name}/{tail:path}", ["PUT"], "item_tail", None),
    ("/ping", ["GET"], "ping", None),
    ("/ping", ["HEAD"], "ping_head", None),
    ("/files/{rest:path}", ["GET"], "files", None),
    ("/caf%C3%A9", ["GET"], "cafe", None),
    ("/a%2Fb", ["GET"], "a_slash_b", None),
    ("/:org/repos", ["GET"], "repos", None),
    ("/x/{a:int}/{b:int}/end", ["GET"], "x_ints", None),
    ("/x/{a}/{b}/other", ["GET"], "x_strs", None),
    ("/y/{a:int}/s/t", ["GET"], "y_t", None),
    ("/y/{a:int}/s/{b}", ["GET"], "y_b", None),
    ("/y/{a}/{c}/u", ["GET"], "y_u", None),
    ("/", ["GET"], "api_home", "api.example.com"),
    ("/status", ["GET"], "api_status", "api.example.com"),
    ("/users", ["DELETE"], "api_users", "API.example.com"),
    ("/", ["GET"], "tenant_home", "*.example.com"),
    ("/", ["GET"], "eu_home", "*.eu.example.com"),
    ("/", ["GET"], "local_home", "[::1]"),
]

UID = "0d3f2c1e-7a4b-4c5d-9e8f-0123456789ab"


@dataclass
class Hit:
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    rest: tuple[str, ...] = ()


@dataclass
class NotAllowed:
    allow: str
    target: str


@dataclass
class Redirect:
    location: str


MISSING = "404"
Expected = Hit | NotAllowed | Redirect | str

# (method, raw path, Host header, expected)
CASES: list[tuple[str, str, str | None, Expected]] = [
    # exact routes
    ("GET", "/", None, Hit("home")),
    ("GET", "/users", None, Hit("users")),
    ("POST", "/users", None, Hit("users")),
    ("GET", "/users/me", None, Hit("me")),
    ("GET", "/about/", None, Hit("about")),
    ("GET", "/caf%C3%A9", None, Hit("cafe")),
    ("GET", "/caf%c3%a9", None, Hit("cafe")),
    ("GET", "/a%2Fb", None, Hit("a_slash_b")),
    ("GET", "/a/b", None, MISSING),
    # converted params
    ("GET", "/users/42", None, Hit("user_by_id", {"id": 42})),
    ("GET", "/users/007", None, Hit("user_by_id", {"id": 7})),
    ("GET", f"/users/{UID}", None, Hit("user_by_key", {"key": uuid.UUID(UID)})),
    ("GET", f"/users/{UID.upper()}", None, Hit("user_by_key", {"key": uuid.UUID(UID)})),
    ("GET", "/users/bob", None, Hit("user_by_name", {"name": "bob"})),
    ("GET", "/users/+5", None, Hit("user_by_name", {"name": "+5"})),
    ("GET", "/users/-5", None, Hit("user_by_name", {"name": "-5"})),
    ("GET", "/users/%D9%A1", None, Hit("user_by_name", {"name": "\u0661"})),
    ("GET", "/users/" + "9" * 18, None, Hit("user_by_id", {"id": 10**18 - 1})),
    ("GET", "/users/" + "9" * 19, None, Hit("user_by_name", {"name": "9" * 19})),
    ("GET", "/users/" + UID[:-1], None, Hit("user_by_name", {"name": UID[:-1]})),
    ("GET", "/users/a%2Fb", None, Hit("user_by_name", {"name": "a/b"})),
    ("GET", "/users/5/posts/hello%20world", None, Hit("post", {"id": 5, "post": "hello world"})),
    ("GET", "/acme/repos", None, Hit("repos", {"org": "acme"})),
    # priority: exact > int > str > path, whatever the add order
    ("GET", "/p/exact", None, Hit("p_exact")),
    ("GET", "/p/12", None, Hit("p_int", {"n": 12})),
    ("GET", "/p/abc", None, Hit("p_str", {"s": "abc"})),
    ("GET", "/p/a/b", None, Hit("p_path", {"rest": "a/b"}, ("a", "b"))),
    ("GET", "/p/", None, Hit("p_path", {"rest": ""}, ("",))),
    ("GET", "/p/exact/", None, Hit("p_path", {"rest": "exact/"}, ("exact", ""))),
    # backtracking: the int branch matches 42 but has no "profile" below it
    ("GET", "/users/42/profile", None, Hit("profile", {"name": "42"})),
    ("GET", "/users/42/avatar", None, Hit("avatar", {"id": 42})),
    ("GET", "/users/bob/avatar", None, MISSING),
    # values converted on a branch that failed deeper are dropped with it
    ("GET", "/x/1/2/end", None, Hit("x_ints", {"a": 1, "b": 2})),
    ("GET", "/x/1/2/other", None, Hit("x_strs", {"a": "1", "b": "2"})),
    ("GET", "/y/5/s/t", None, Hit("y_t", {"a": 5})),
    ("GET", "/y/5/s/u", None, Hit("y_b", {"a": 5, "b": "u"})),
    ("GET", "/y/5/q/u", None, Hit("y_u", {"a": "5", "c": "q"})),
    ("GET", "/y/5/q/v", None, MISSING),
    ("GET", "/users/42/posts", None, MISSING),
    # method-aware backtracking: the static node lacks GET, the parameter has it
    ("GET", "/items/special", None, Hit("item", {"name": "special"})),
    ("POST", "/items/special", None, Hit("special")),
    ("PUT", "/items/x/y/z", None, Hit("item_tail", {"name": "x", "tail": "y/z"}, ("y", "z"))),
    # HEAD follows GET unless HEAD was added itself
    ("HEAD", "/users", None, Hit("users")),
    ("HEAD", "/users/42", None, Hit("user_by_id", {"id": 42})),
    ("GET", "/ping", None, Hit("ping")),
    ("HEAD", "/ping", None, Hit("ping_head")),
    # 405 with the first path match's Allow; OPTIONS is never routed
    ("PUT", "/users/42", None, NotAllowed("DELETE, GET, HEAD, OPTIONS", "user_by_id")),
    ("POST", "/users/bob", None, NotAllowed("GET, HEAD, OPTIONS", "user_by_name")),
    ("OPTIONS", "/users", None, NotAllowed("GET, HEAD, OPTIONS, POST", "users")),
    ("DELETE", "/items/special", None, NotAllowed("OPTIONS, POST", "special")),
    ("POST", "/ping", None, NotAllowed("GET, HEAD, OPTIONS", "ping")),
    ("POST", "/p/abc", None, NotAllowed("GET, HEAD, OPTIONS", "p_str")),
    ("get", "/users", None, NotAllowed("GET, HEAD, OPTIONS, POST", "users")),
    # catch-all: one or more segments, a single empty one included; %2F stays inside
    ("GET", "/files/", None, Hit("files", {"rest": ""}, ("",))),
    ("GET", "/files/a", None, Hit("files", {"rest": "a"}, ("a",))),
    ("GET", "/files/a/b/", None, Hit("files", {"rest": "a/b/"}, ("a", "b", ""))),
    ("GET", "/files/a%2Fb/c", None, Hit("files", {"rest": "a/b/c"}, ("a/b", "c"))),
    ("GET", "/files/..%2F..%2Fetc", None, Hit("files", {"rest": "../../etc"}, ("../../etc",))),
    ("GET", "/files/x/../y", None, Hit("files", {"rest": "y"}, ("y",))),
    ("GET", "/files/x/../../users", None, Hit("users")),
    ("GET", "/files", None, Redirect("/files/")),
    # trailing slash: added or removed when that matches
    ("GET", "/users/", None, Redirect("/users")),
    ("POST", "/users/", None, Redirect("/users")),
    ("GET", "/users/me/", None, Redirect("/users/me")),
    ("GET", "/users/42/", None, Redirect("/users/42")),
    ("GET", "/about", None, Redirect("/about/")),
    ("GET", "/users/a%2Fb/", None, Redirect("/users/a%2Fb")),
    ("POST", "/about", None, MISSING),
    ("GET", "/nope", None, MISSING),
    ("GET", "/nope/", None, MISSING),
    ("GET", "/users/42/unknown", None, MISSING),
    ("DELETE", "/users/bob/profile", None, NotAllowed("GET, HEAD, OPTIONS", "profile")),
    # hosts: exact, then wildcards (longest first), then host-less routes
    ("GET", "/", "api.example.com", Hit("api_home")),
    ("GET", "/", "API.Example.COM:8443", Hit("api_home")),
    ("GET", "/", "api.example.com.", Hit("api_home")),
    ("GET", "/", "x.example.com", Hit("tenant_home")),
    ("GET", "/", "a.b.example.com", Hit("tenant_home")),
    ("GET", "/", "a.eu.example.com", Hit("eu_home")),
    ("GET", "/", "eu.example.com", Hit("tenant_home")),
    ("GET", "/", "example.com", Hit("home")),
    ("GET", "/", "badexample.com", Hit("home")),
    ("GET", "/", "[::1]:8000", Hit("local_home")),
    ("GET", "/", "[::1]", Hit("local_home")),
    ("GET", "/", "127.0.0.1:8000", Hit("home")),
    ("GET", "/", "", Hit("home")),
    ("GET", "/status", "api.example.com", Hit("api_status")),
    ("GET", "/status", "x.example.com", MISSING),
    ("GET", "/status", None, MISSING),
    ("POST", "/status", "api.example.com", NotAllowed("GET, HEAD, OPTIONS", "api_status")),
    ("GET", "/status/", "api.example.com", Redirect("/status")),
    # a host-specific miss falls through to host-less routes, method included
    ("GET", "/users/42", "api.example.com", Hit("user_by_id", {"id": 42})),
    ("DELETE", "/users", "api.example.com", Hit("api_users")),
    ("GET", "/users", "api.example.com", Hit("users")),
    ("PUT", "/users", "api.example.com", NotAllowed("DELETE, OPTIONS", "api_users")),
]


def build(order: str, *, redirect_slashes: bool = True) -> Router[str]:
    routes = list(ROUTES)
    if order == "reversed":
        routes.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(routes)
    builder: RouterBuilder[str] = RouterBuilder(redirect_slashes=redirect_slashes)
    for pattern, methods, target, host in routes:
        builder.add(pattern, methods, target, host=host)
    return builder.build()


ROUTERS = {order: build(order) for order in ("given", "reversed", "shuffled")}


def outcome(router: Router[str], method: str, raw: str, host: str | None) -> Expected:
    try:
        found = router.match(host, method, split_path(raw))
    except NotFound:
        return MISSING
    except MethodNotAllowed as exc:
        return NotAllowed(exc.allow, exc.target)
    except TrailingSlashRedirect as exc:
        return Redirect(join_path(exc.segments))
    return Hit(found.target, found.params, found.rest)


@pytest.mark.parametrize("order", list(ROUTERS))
@pytest.mark.parametrize(("method", "raw", "host", "expected"), CASES)
def test_match(order: str, method: str, raw: str, host: str | None, expected: Expected) -> None:
    assert outcome(ROUTERS[order], method, raw, host) == expected


def test_match_carries_the_route_pattern() -> None:
    found = ROUTERS["given"].match(None, "GET", ("users", "42"))
    assert isinstance(found, Match)
    assert found.route_pattern == "/users/{id:int}"
    assert found.params == {"id": 42}
    assert found.rest == ()
    assert ROUTERS["given"].match(None, "GET", ("acme", "repos")).route_pattern == "/:org/repos"


def test_params_are_never_shared_between_matches() -> None:
    first = ROUTERS["given"].match(None, "GET", ("users",))
    first.params["x"] = 1
    assert ROUTERS["given"].match(None, "GET", ("users",)).params == {}


@pytest.mark.parametrize(
    ("raw", "expected"), [("/users/", MISSING), ("/about", MISSING), ("/files", MISSING)]
)
def test_strict_slashes_never_redirect(raw: str, expected: Expected) -> None:
    router = build("given", redirect_slashes=False)
    assert outcome(router, "GET", raw, None) == expected


def test_slash_redirect_from_root_pattern() -> None:
    builder: RouterBuilder[str] = RouterBuilder()
    builder.add("/docs/", ["GET"], "docs")
    router = builder.build()
    assert outcome(router, "GET", "/docs", None) == Redirect("/docs/")
    assert outcome(router, "GET", "/", None) == MISSING


def test_asterisk_form_has_no_segments_and_no_route() -> None:
    with pytest.raises(NotFound):
        ROUTERS["given"].match(None, "OPTIONS", ())


def test_failures_share_one_family() -> None:
    assert issubclass(NotFound, NoMatch)
    assert issubclass(MethodNotAllowed, NoMatch)
    assert issubclass(TrailingSlashRedirect, NoMatch)


def test_empty_router_finds_nothing() -> None:
    router: Router[str] = RouterBuilder[str]().build()
    assert outcome(router, "GET", "/", None) == MISSING
    assert outcome(router, "GET", "/", "example.com") == MISSING


def test_pattern_objects_are_accepted() -> None:
    builder: RouterBuilder[int] = RouterBuilder()
    builder.add(parse_pattern("/n/{n:int}"), ["GET"], 1)
    assert builder.build().match(None, "GET", ("n", "3")).params == {"n": 3}


def test_builder_can_build_twice() -> None:
    builder: RouterBuilder[str] = RouterBuilder()
    builder.add("/a", ["GET"], "a")
    first = builder.build()
    builder.add("/b", ["GET"], "b")
    second = builder.build()
    assert outcome(first, "GET", "/b", None) == MISSING
    assert outcome(second, "GET", "/b", None) == Hit("b")


# --- build-time errors ---------------------------------------------------------------


def where(index: int, line: int) -> Where:
    return Where("gateway.toml", f"route[{index}]", line)


def conflicts(*routes: tuple[str, list[str], str | None, Where]) -> list[str]:
    builder: RouterBuilder[str] = RouterBuilder()
    for pattern, methods, host, place in routes:
        builder.add(pattern, methods, pattern, host=host, where=place)
    with pytest.raises(RouteConflicts) as caught:
        builder.build()
    # The router only carries each route's place; the config turns conflicts into issues.
    return [str(conflict_issue(c)) for c in caught.value.conflicts]


def test_same_shape_and_method_is_a_conflict() -> None:
    assert conflicts(
        ("/users/{id:int}", ["GET"], None, where(1, 12)),
        ("/users/{uid:int}", ["GET", "POST"], None, where(3, 20)),
    ) == [
        "gateway.toml:20: route[3]: route 'GET,POST /users/{uid:int}' conflicts with"
        " route[1] (gateway.toml:12) for GET: two routes can never be told apart"
    ]


def test_every_conflict_is_listed() -> None:
    assert conflicts(
        ("/a/{x}", ["GET"], None, where(0, 1)),
        ("/a/:y", ["GET", "POST"], None, where(1, 5)),
        ("/a/{z:str}", ["POST", "GET"], None, where(2, 9)),
        ("/f/{a:path}", ["GET"], None, where(3, 13)),
        ("/f/{b:path}", ["GET"], None, where(4, 17)),
        ("/caf%C3%A9", ["GET"], "Example.com", where(5, 21)),
        ("/café", ["GET"], "example.com", where(6, 25)),
    ) == [
        "gateway.toml:5: route[1]: route 'GET,POST /a/:y' conflicts with"
        " route[0] (gateway.toml:1) for GET: two routes can never be told apart",
        "gateway.toml:9: route[2]: route 'POST,GET /a/{z:str}' conflicts with"
        " route[0] (gateway.toml:1) for GET: two routes can never be told apart",
        "gateway.toml:9: route[2]: route 'POST,GET /a/{z:str}' conflicts with"
        " route[1] (gateway.toml:5) for POST, GET: two routes can never be told apart",
        "gateway.toml:17: route[4]: route 'GET /f/{b:path}' conflicts with"
        " route[3] (gateway.toml:13) for GET: two routes can never be told apart",
        "gateway.toml:25: route[6]: route 'GET example.com/café' conflicts with"
        " route[5] (gateway.toml:21) for GET: two routes can never be told apart",
    ]


def test_conflict_with_a_route_added_without_a_place() -> None:
    nowhere = Where()
    assert conflicts(
        ("/x", ["GET"], None, nowhere),
        ("/x", ["GET"], None, where(2, 7)),
    ) == [
        "gateway.toml:7: route[2]: route 'GET /x' conflicts with"
        " route 'GET /x' for GET: two routes can never be told apart"
    ]


def test_routes_that_can_be_told_apart_build() -> None:
    builder: RouterBuilder[str] = RouterBuilder()
    builder.add("/u/{id:int}", ["GET"], "int")  # other converters: priority decides
    builder.add("/u/{id}", ["GET"], "str")
    builder.add("/u/{id:uuid}", ["GET"], "uuid")
    builder.add("/v/{id}", ["GET"], "get")  # same shape, disjoint methods: one table
    builder.add("/v/{key}", ["DELETE"], "delete")
    builder.add("/w", ["GET"], "w")  # slash or none: different shapes
    builder.add("/w/", ["GET"], "w/")
    builder.add("/w", ["GET"], "host", host="example.com")  # other host
    builder.add("/h", ["GET"], "get")  # explicit HEAD beside GET
    builder.add("/h", ["HEAD"], "head")
    router = builder.build()
    assert outcome(router, "DELETE", "/v/9", None) == Hit("delete", {"key": "9"})
    assert outcome(router, "GET", "/v/9", None) == Hit("get", {"id": "9"})
    assert outcome(router, "PUT", "/v/9", None) == NotAllowed("DELETE, GET, HEAD, OPTIONS", "get")
    assert outcome(router, "GET", "/w/", None) == Hit("w/")
    assert outcome(router, "GET", "/w", "example.com") == Hit("host")
    assert outcome(router, "HEAD", "/h", None) == Hit("head")


def test_add_rejects_bad_input_at_once() -> None:
    builder: RouterBuilder[str] = RouterBuilder()
    with pytest.raises(PatternError, match="pattern 'x' must start with '/'"):
        builder.add("x", ["GET"], "x")
    with pytest.raises(TypeError) as type_error:
        builder.add("/x", "GET", "x")
    assert str(type_error.value) == "methods must be a list of names, like ['GET'], not a str"
    with pytest.raises(ValueError) as empty:
        builder.add("/x", [], "x")
    assert str(empty.value) == "route '/x' has no methods: list one, like ['GET']"
    with pytest.raises(ValueError) as bad:
        builder.add("/x", ["GET", "P T"], "x")
    assert str(bad.value) == "invalid method 'P T': a method is a token, like 'GET'"
    with pytest.raises(PatternError, match="must not include a port"):
        builder.add("/x", ["GET"], "x", host="example.com:80")
    assert builder.build() is not None  # nothing half-added
