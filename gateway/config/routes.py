"""The arrays of gateway.toml: [[route]] (handler, respond or redirect) and [[static]] mounts.
A route or mount with any problem is left out of the result, after every problem in it has
been recorded. Pattern syntax is the router's to check: patterns and redirect targets are
parsed by gateway.router (one grammar), and its conflicts are turned into ConfigIssues here."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Collection
from pathlib import Path

from gateway.config import values as v
from gateway.config.compression import read_compress
from gateway.config.fields import Invalid, Section, close_match, expected
from gateway.config.schema import (
    DOTFILES,
    NOWHERE,
    SYMLINKS,
    CacheRuleSpec,
    RedirectSpec,
    RespondSpec,
    RouteSpec,
    StaticSpec,
    WebSocketOptionsSpec,
    Where,
)
from gateway.errors import ConfigIssue
from gateway.proxy.config import read_proxy
from gateway.router.patterns import PatternError, parse_pattern, parse_template
from gateway.router.trie import Conflict

ROUTE_KEYS = (
    "path",
    "methods",
    "host",
    "handler",
    "inline",
    "blocking",
    "respond",
    "redirect",
    "proxy",
    "headers",
    "cors",
    "json",
    "websocket",
    "websocket_options",
    "compress",
    "max_body_bytes",
)
WEBSOCKET_KEYS = (
    "max_message",
    "ping_interval",
    "ping_timeout",
    "send_buffer",
    "receive_buffer",
    "close_timeout",
    "subprotocols",
)
TARGETS = ("handler", "respond", "redirect", "proxy", "websocket")
RESPOND_KEYS = ("status", "body", "json", "content_type", "headers")
REDIRECT_KEYS = ("to", "status", "keep_query")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
STATIC_KEYS = (
    "prefix",
    "dir",
    "host",
    "index",
    "fallback",
    "precompressed",
    "dotfiles",
    "symlinks",
    "listing",
    "cache",
    "mime",
    "headers",
    "cors",
)
CACHE_KEYS = ("match", "control")
ENCODINGS = ("br", "gzip", "zstd")

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_HANDLER = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})*:{_IDENTIFIER}")
_NO_BODY = (204, 304)

_ROUTE = RouteSpec("/")
_WS = WebSocketOptionsSpec()
_STATIC = StaticSpec("/", Path("."))


def read_route(
    section: Section, cors_names: Collection[str], upstream_names: Collection[str] = ()
) -> RouteSpec | None:
    section.check_keys(ROUTE_KEYS)
    path = section.require("path", url_path)
    handler = section.get("handler", handler_ref, None)
    inline = section.get("inline", v.boolean, False)
    if inline and not section.has("handler"):
        section.fail("inline", "only a handler route can run inline")
    blocking = section.get("blocking", v.boolean, False)
    if blocking and not section.has("handler"):
        section.fail("blocking", "only a handler route can be blocking")
    elif blocking and inline:
        section.fail("blocking", "a route is 'inline' or 'blocking', not both: keep one")
    check_one_target(section)
    respond_section = section.table("respond")
    redirect_section = section.table("redirect")
    respond = read_respond(respond_section) if respond_section is not None else None
    redirect = read_redirect(redirect_section, path) if redirect_section is not None else None
    spec = RouteSpec(
        path=path or "/",
        methods=section.get("methods", route_methods, _ROUTE.methods),
        host=section.get("host", v.string, None),
        handler=handler,
        inline=inline,
        blocking=blocking,
        respond=respond,
        redirect=redirect,
        proxy=read_proxy(section, path, upstream_names),
        headers=section.get("headers", v.headers, ()),
        cors=section.get("cors", v.cors_ref(cors_names), None),
        json=section.get("json", v.boolean, False),
        websocket=section.get("websocket", handler_ref, None),
        websocket_options=read_websocket_options(section),
        compress=read_compress(section),
        max_body_bytes=section.get("max_body_bytes", v.size(0), None),
        where=section.where,
    )
    return spec if section.ok else None


def read_websocket_options(section: Section) -> WebSocketOptionsSpec:
    options = section.table("websocket_options")
    if options is None:
        return _WS
    if not section.has("websocket"):
        section.fail("websocket_options", "only a websocket route takes websocket_options")
    options.check_keys(WEBSOCKET_KEYS)
    get = options.get
    return WebSocketOptionsSpec(
        max_message=get("max_message", v.size(1), _WS.max_message),
        ping_interval=get("ping_interval", _duration_or_off, _WS.ping_interval),
        ping_timeout=get("ping_timeout", v.duration(positive=True), _WS.ping_timeout),
        send_buffer=get("send_buffer", v.size(1), _WS.send_buffer),
        receive_buffer=get("receive_buffer", v.size(1), _WS.receive_buffer),
        close_timeout=get("close_timeout", v.duration(positive=True), _WS.close_timeout),
        subprotocols=get("subprotocols", subprotocol_names, ()),
    )


def subprotocol_names(value: object) -> tuple[str, ...]:
    """Sec-WebSocket-Protocol values are tokens (RFC 6455 4.1): 'chat v1' never matches."""
    return tuple(v.each(value, subprotocol))


def subprotocol(value: object) -> str:
    text = v.string(value)
    if not v.TOKEN.fullmatch(text):
        raise Invalid(
            f"{text!r} is not a subprotocol name: write a token such as 'chat.v2' "
            "(letters, digits and !#$%&'*+-.^_`|~, no spaces or commas)"
        )
    return text


def _duration_or_off(value: object) -> float | None:
    if value is False:
        return None
    return v.duration(positive=True)(value)


def check_one_target(section: Section) -> None:
    present = [key for key in TARGETS if section.has(key)]
    if not present:
        section.fail(
            None,
            "nothing to serve: set one of 'handler', 'respond', 'redirect', 'proxy' or 'websocket'",
        )
    elif len(present) > 1:
        # Point at the later key: that is the line one of them has to go from.
        lines = [section.line_of(key) or 0 for key in present]
        both = "both " if len(present) == 2 else ""
        names = " and ".join([", ".join(map(repr, present[:-1])), repr(present[-1])])
        rule = "a route has exactly one of handler, respond, redirect, proxy or websocket"
        section.fail(None, f"sets {both}{names}: {rule}", max(lines) or None)


# methods = ["*"]: every method a proxied backend may take (the router matches by name;
# extension methods such as PROPFIND are listed by name beside or instead of "*").
ANY_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def route_methods(value: object) -> tuple[str, ...]:
    if value == ["*"] or value == "*":
        return ANY_METHODS
    if isinstance(value, list) and "*" in value:
        rest = [m for m in value if m != "*"]
        return v.unique([*ANY_METHODS, *v.methods(rest)]) if rest else ANY_METHODS
    return v.methods(value)


def url_path(value: object) -> str:
    text = v.string(value)
    if not text.startswith("/"):
        raise Invalid(f"{text!r} does not start with '/': write e.g. {'/' + text!r}")
    return text


def handler_ref(value: object) -> str:
    text = v.string(value)
    if not _HANDLER.fullmatch(text):
        raise Invalid(f"{text!r} is not module:function: write e.g. 'api.users:get_user'")
    return text


def read_respond(section: Section) -> RespondSpec:
    section.check_keys(RESPOND_KEYS)
    status = section.get("status", v.integer(100, 599), 200)
    body = section.get("body", body_bytes, None)
    data = section.get("json", to_json, None)
    content_type = section.get("content_type", v.line_text, None)
    if section.has("body") and section.has("json"):
        section.fail("json", "sets both 'body' and 'json': keep one")
    if (body or data) and status in _NO_BODY:
        which = "json" if data else "body"
        section.fail("status", f"a {status} response has no body: drop {which!r} or change it")
    # Fill in the type here, so the spec says exactly what will be sent.
    if content_type is None and data is not None:
        content_type = "application/json"
    elif content_type is None and body is not None:
        content_type = "text/plain; charset=utf-8"
    return RespondSpec(
        status=status,
        body=data if data is not None else body or b"",
        content_type=content_type,
        headers=section.get("headers", v.headers, ()),
    )


def body_bytes(value: object) -> bytes:
    if not isinstance(value, str):
        raise expected("a string", value)
    return value.encode()  # unlike most strings, an empty body is fine


def to_json(value: object) -> bytes:
    def dates(item: object) -> str:
        if isinstance(item, datetime.date | datetime.time):
            return item.isoformat()
        raise TypeError(item)  # pragma: no cover - tomllib only yields JSON-able values

    try:
        text = json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=dates
        )
    except ValueError:
        raise Invalid("nan and inf cannot be written as JSON") from None
    return text.encode()


def read_redirect(section: Section, path: str | None) -> RedirectSpec:
    section.check_keys(REDIRECT_KEYS)
    to = section.require("to", v.url_text)
    if to is not None and path is not None:
        check_params(section, to, path)
    return RedirectSpec(
        to=to or "/",
        status=section.get("status", redirect_status, 308),
        keep_query=section.get("keep_query", v.boolean, True),
    )


def redirect_status(value: object) -> int:
    status = v.integer()(value)
    if status not in REDIRECT_STATUSES:
        raise Invalid(f"{status} is not a redirect status: use one of 301, 302, 303, 307, 308")
    return status


def check_params(section: Section, to: str, path: str) -> None:
    try:
        params = list(parse_pattern(path).param_names)
    except PatternError:
        return  # the router reports the pattern itself, with what would be right
    for used in parse_template(to).names:
        if used in params:
            continue
        if params:
            close = close_match(used, params)
            hint = f" (did you mean '{{{close}}}'?)" if close else ""
            message = f"'{{{used}}}' is not a parameter of path {path!r}{hint}"
        else:
            message = f"'{{{used}}}' is not a parameter of path {path!r}, which has none"
        section.fail("to", message)


def read_static(
    section: Section, root: Path, check: bool, cors_names: Collection[str]
) -> StaticSpec | None:
    section.check_keys(STATIC_KEYS)
    get = section.get
    prefix = section.require("prefix", url_path)
    folder = section.require("dir", v.directory(root, check))
    fallback = get("fallback", v.inside, None)
    if fallback and folder and check and not (folder / fallback).is_file():
        section.fail("fallback", f"file {str(folder / fallback)!r} does not exist")
    spec = StaticSpec(
        prefix=prefix or "/",
        dir=folder or root,
        host=get("host", v.string, None),
        index=get("index", lambda value: tuple(v.each(value, v.file_name)), _STATIC.index),
        fallback=fallback,
        precompressed=get("precompressed", v.one_of_each(ENCODINGS), ()),
        dotfiles=get("dotfiles", v.choice(DOTFILES), _STATIC.dotfiles),
        symlinks=get("symlinks", v.choice(SYMLINKS), _STATIC.symlinks),
        listing=get("listing", v.boolean, False),
        cache=read_cache(section),
        mime=get("mime", v.mime_types, {}),
        headers=get("headers", v.headers, ()),
        cors=get("cors", v.cors_ref(cors_names), None),
        where=section.where,
    )
    return spec if section.ok else None


def read_cache(section: Section) -> tuple[CacheRuleSpec, ...]:
    rules = []
    for entry in section.tables("cache", " like [{ match = '*.html', control = 'no-cache' }]"):
        entry.check_keys(CACHE_KEYS)
        match = entry.require("match", v.string)
        control = entry.require("control", v.line_text)
        if match is not None and control is not None:
            rules.append(CacheRuleSpec(match, control))
    return tuple(rules)


def conflict_issue(conflict: Conflict) -> ConfigIssue:
    """A router conflict as a config error at the later route, naming the earlier one."""
    where = conflict.where if isinstance(conflict.where, Where) else NOWHERE
    other = conflict.other_where if isinstance(conflict.other_where, Where) else NOWHERE
    if other.key:
        place = f"{other.file}:{other.line}" if other.line else other.file
        reference = f"{other.key} ({place})"
    else:
        reference = f"route {conflict.other!r}"
    return where.issue(
        f"route {conflict.route!r} conflicts with {reference}"
        f" for {', '.join(conflict.methods)}: two routes can never be told apart"
    )
