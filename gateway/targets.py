"""Targets: what a matched route does. Each kind (handler, respond, redirect, static mount)
is compiled once from its spec; `serve(request, match)` answers one request. Targets are
immutable and shared by every request on an app."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gateway.errors import HTTPError
from gateway.handlers import Handler, call_handler, http_error_response
from gateway.response import Response

if TYPE_CHECKING:
    from gateway.app import App
    from gateway.cors import CorsPolicy
    from gateway.request import Request
    from gateway.router.trie import Match
    from gateway.static.files import StaticMount


@dataclass(frozen=True, slots=True, eq=False)
class Target:
    """Shared by every kind: the CORS policy, extra headers, and a label for `gateway routes`."""

    label: str
    cors: CorsPolicy | None = None
    cors_name: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def finish(self, request: Request, response: Response) -> Response:
        if self.headers:
            response.headers.extend(self.headers)
        if self.cors is not None:
            self.cors.decorate(request.headers, response)
        return response


@dataclass(frozen=True, slots=True, eq=False)
class HandlerTarget(Target):
    func: Handler = field(default=lambda request: None)
    inline: bool = False

    def serve(self, app: App, request: Request, match: Match[Any]) -> Response | HandlerCall:
        if self.inline:
            return self.finish(request, call_handler(self.func, request))
        return HandlerCall(app, self, request)


class HandlerCall:
    """A handler call to run on the pool. `run` is called on a pool thread; the other
    methods give the answer when it cannot run (busy), fails or takes too long."""

    __slots__ = ("app", "request", "target")

    def __init__(self, app: App, target: HandlerTarget, request: Request) -> None:
        self.app = app
        self.target = target
        self.request = request

    def run(self) -> Response:
        response = self.target.finish(self.request, call_handler(self.target.func, self.request))
        live = self.app.live  # live reload: HTML from a pooled handler gets the client too
        return response if live is None else live.inject(self.request, response)

    def busy_response(self) -> Response:
        return self._error(503, "server busy: try again shortly", [("retry-after", "1")])

    def timeout_response(self) -> Response:
        return self._error(504, f"handler timed out (request id {self.request.id})")

    def error_response(self) -> Response:
        return self._error(500, f"internal server error (request id {self.request.id})")

    def _error(
        self, status: int, detail: str, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        return self.app.error_response(status, self.request, self.target, detail, headers)


@dataclass(frozen=True, slots=True, eq=False)
class RespondTarget(Target):
    status: int = 200
    body: bytes = b""
    content_type: str | None = None

    def serve(self, app: App, request: Request, match: Match[Any]) -> Response:
        response = Response(self.status, self.body, content_type=self.content_type)
        return self.finish(request, response)


_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True, eq=False)
class RedirectTarget(Target):
    to: str = "/"
    status: int = 308
    keep_query: bool = True

    def serve(self, app: App, request: Request, match: Match[Any]) -> Response:
        params = match.params

        def fill(m: re.Match[str]) -> str:
            return quote(str(params.get(m.group(1), "")), safe="/")

        location = _PARAM.sub(fill, self.to)
        if self.keep_query and request.query_string:
            location += ("&" if "?" in location else "?") + request.query_string
        return self.finish(request, Response(self.status, b"", [("location", location)]))


@dataclass(frozen=True, slots=True, eq=False)
class StaticTarget(Target):
    mount: StaticMount | None = None

    def serve(self, app: App, request: Request, match: Match[Any]) -> Response:
        assert self.mount is not None
        try:
            response = self.mount.serve(request, match.rest)
        except HTTPError as exc:
            return self.finish(request, http_error_response(exc))
        if response is None:
            return app.static_miss(request, self)
        return self.finish(request, response)
