"""Targets: what a matched route does. Each kind (handler, respond, redirect, static mount)
is compiled once from its spec; `serve(request, match)` answers one request with a Response,
a Deferred handler call for the pool, or MISS. Targets never see the App (Starlette's routes
see the request, never the application): the App finishes, filters and renders errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.handlers import Handler, call_handler
from gateway.placement import Placement
from gateway.response import Response
from gateway.router.patterns import Template, parse_template

if TYPE_CHECKING:
    from gateway.cors import CorsPolicy
    from gateway.proxy.call import ProxyCall
    from gateway.request import Request
    from gateway.router.matcher import Match
    from gateway.static.files import StaticMount


class Miss:
    """What a static mount answers when it has no such file: the App decides between a
    404, a 405 or a slash redirect for a route the catch-all mount shadowed."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISS"


MISS = Miss()


@dataclass(frozen=True, slots=True, eq=False)
class Target:
    """Shared by every kind: the CORS policy, extra headers, and a label for `gateway routes`."""

    label: str
    cors: CorsPolicy | None = None
    cors_name: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    route: str = "(unmatched)"  # the metrics label: the pattern as `gateway routes` shows it
    json: bool = False  # `json = true`: its errors are problem+json whatever the Accept
    compress: Any = None  # a gateway.compress Policy for handler and respond answers

    def serve(self, request: Request, match: Match[Any]) -> Response | Deferred | Miss | ProxyCall:
        raise NotImplementedError  # the fallback target of errors serves nothing

    def finish(self, request: Request, response: Response) -> Response:
        """The route's own headers and CORS headers on a response to it."""
        if self.headers:
            response.headers.extend(self.headers)
        if self.cors is not None:
            self.cors.decorate(request.headers, response)
        return response


class Deferred:
    """A handler call for the pool. run() calls the handler on a pool thread and returns
    its Response, or raises (HTTPError or the handler's own error) for the App to render."""

    __slots__ = ("request", "target")

    def __init__(self, target: HandlerTarget, request: Request) -> None:
        self.target = target
        self.request = request

    def run(self) -> Response:
        return call_handler(self.target.func, self.request)


@dataclass(frozen=True, slots=True, eq=False)
class HandlerTarget(Target):
    func: Handler = field(default=lambda request: None)
    placement: Placement = field(default_factory=lambda: Placement("handler", "pool"))

    def serve(self, request: Request, match: Match[Any]) -> Response | Deferred:
        placement = self.placement
        if not placement.inline:
            return Deferred(self, request)
        if not placement.adaptive:  # `inline = true`: the user vouches it never blocks
            return call_handler(self.func, request)
        return placement.run_inline(call_handler, self.func, request)  # timed: it may move


@dataclass(frozen=True, slots=True, eq=False)
class RespondTarget(Target):
    status: int = 200
    body: bytes = b""
    content_type: str | None = None

    def serve(self, request: Request, match: Match[Any]) -> Response:
        return Response(self.status, self.body, content_type=self.content_type)


@dataclass(frozen=True, slots=True, eq=False)
class RedirectTarget(Target):
    to: str = "/"
    status: int = 308
    keep_query: bool = True
    template: Template = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "template", parse_template(self.to))  # parsed once

    def serve(self, request: Request, match: Match[Any]) -> Response:
        location = self.template.build(match.params)
        if location.startswith("//") and not self.to.startswith("//"):
            # A parameter made a local target protocol-relative ("/{rest}" with rest
            # "/evil.example", from /old/%2Fevil.example): a browser would leave for that host.
            location = "/" + location.lstrip("/")
        if self.keep_query and request.query_string:
            location += ("&" if "?" in location else "?") + request.query_string
        return Response(self.status, b"", [("location", location)])


@dataclass(frozen=True, slots=True, eq=False)
class StaticTarget(Target):
    mount: StaticMount | None = None

    def serve(self, request: Request, match: Match[Any]) -> Response | Miss:
        assert self.mount is not None
        response = self.mount.serve(request, match.rest)  # HTTPError: the App renders it
        return MISS if response is None else response
