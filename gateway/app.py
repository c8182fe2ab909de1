"""App: a compiled gateway.toml. build_app turns a GatewayConfig into an immutable router
of targets (collecting every compile error at once); App.handle answers one Request with
a Response, or a HandlerCall for the pool. No sockets here."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.config.schema import GatewayConfig, RouteSpec, StaticSpec
from gateway.cors import CorsPolicy
from gateway.errors import ConfigError, ConfigIssue, HTTPError
from gateway.handlers import SiteModules, reason
from gateway.livereload import EVENTS_PATH, LiveReload, is_reserved, reserved_message
from gateway.request import Request
from gateway.response import Response
from gateway.router.paths import join_path
from gateway.router.patterns import parse_host
from gateway.router.trie import (
    MethodNotAllowed,
    NotFound,
    Router,
    RouterBuilder,
    TrailingSlashRedirect,
)
from gateway.static.files import StaticMount
from gateway.targets import (
    HandlerCall,
    HandlerTarget,
    RedirectTarget,
    RespondTarget,
    StaticTarget,
    Target,
)

Result = Response | HandlerCall


@dataclass(frozen=True, slots=True)
class ErrorPage:
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One line of `gateway routes`."""

    host: str
    methods: str
    pattern: str
    target: str
    cors: str


class App:
    """Answers requests for one compiled config. Immutable once built."""

    def __init__(
        self,
        config: GatewayConfig,
        router: Router[Target],
        error_pages: dict[int, ErrorPage],
        default_cors: CorsPolicy | None,
        rows: list[RouteRow],
        modules: SiteModules,
        mounts: list[StaticMount] | None = None,
        live: LiveReload | None = None,
    ) -> None:
        self.config = config
        self.router = router
        self.error_pages = error_pages
        self.default_cors = default_cors
        self.rows = rows
        self.modules = modules
        self.mounts = mounts or []
        self.live = live  # set when [dev] live_reload is on and a reloader runs
        self._fallback_target = Target("error", default_cors)

    def handle(self, request: Request) -> Result:
        """The answer to `request`: never raises."""
        try:
            match = self.router.match(request.host, request.method, request.segments)
        except NotFound:
            if request.path == "*" and request.method == "OPTIONS":
                return Response(
                    204, b"", [("allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS")]
                )
            return self.error_response(404, request, self._fallback_target)
        except MethodNotAllowed as exc:
            return self._method_not_allowed(request, exc.allow, exc.target)
        except TrailingSlashRedirect as exc:
            location = join_path(exc.segments)
            if request.query_string:
                location += "?" + request.query_string
            return self._fallback_target.finish(
                request, Response(308, b"", [("location", location)])
            )
        target = match.target
        request.params = match.params
        if request.method == "OPTIONS" and target.cors is not None:
            preflight = target.cors.preflight(request.method, request.headers)
            if preflight is not None:
                return preflight
        try:
            result: Result = target.serve(self, request, match)  # type: ignore[attr-defined]
            return result if self.live is None else self.live.inject(request, result)
        except HTTPError as exc:
            return self.error_response(exc.status, request, target, exc.detail, exc.headers)

    def static_miss(self, request: Request, mount: Target) -> Response:
        """A static mount had no file. A mount is a catch-all, so it may have shadowed a
        route that exists for another method (405) or with the other trailing slash (308)."""
        host = request.host
        try:
            self.router.match(host, "\0", request.segments)  # a method no route has
        except MethodNotAllowed as exc:
            if exc.target is not mount:
                return self.error_response(405, request, exc.target, "", [("allow", exc.allow)])
        except Exception:
            pass
        segments = request.segments
        other = segments[:-1] if segments and segments[-1] == "" else (*segments, "")
        if self.config.server.trailing_slash == "redirect" and other:
            try:
                match = self.router.match(host, request.method, other)
            except Exception:
                match = None
            if match is not None and match.target is not mount:
                location = join_path(other) + (
                    f"?{request.query_string}" if request.query_string else ""
                )
                return mount.finish(request, Response(308, b"", [("location", location)]))
        return self.error_response(404, request, mount)

    def close(self) -> None:
        """Release cached files once this app is no longer the one serving."""
        for mount in self.mounts:
            mount.close()

    def _method_not_allowed(self, request: Request, allow: str, target: Target) -> Response:
        if request.method == "OPTIONS":
            if target.cors is not None:
                preflight = target.cors.preflight(request.method, request.headers)
                if preflight is not None:
                    return preflight
            return target.finish(request, Response(204, b"", [("allow", allow)]))
        return self.error_response(405, request, target, "", [("allow", allow)])

    def error_response(
        self,
        status: int,
        request: Request | None,
        target: Target | None = None,
        detail: str = "",
        headers: Iterable[tuple[str, str]] | None = None,
    ) -> Response:
        """An error answer: the [errors] page for `status` when one is set, else a short
        text. The target's CORS headers are added so a web app can read its errors."""
        page = self.error_pages.get(status)
        if page is not None:
            response = Response(status, page.body, content_type=page.content_type)
        else:
            text = detail or reason(status)
            response = Response(status, text + "\n", content_type="text/plain; charset=utf-8")
        if headers:
            response.headers.extend(headers)
        if request is not None and target is not None and target.cors is not None:
            target.cors.decorate(request.headers, response)
        return response

    def protocol_error_response(self, exc: HTTPError, request: Request | None = None) -> Response:
        """The answer to a request that could not be read. When its head was sound (a body
        over the limit), the route it was for adds its CORS headers."""
        target: Target | None = None
        if request is not None:
            try:
                target = self.router.match(request.host, request.method, request.segments).target
            except MethodNotAllowed as not_allowed:
                target = not_allowed.target  # as handle() does: that route's policy, or none
            except (NotFound, TrailingSlashRedirect):
                target = self._fallback_target
        return self.error_response(exc.status, request, target, exc.detail)


def build_app(
    config: GatewayConfig, modules: SiteModules | None = None, live: LiveReload | None = None
) -> App:
    """Compile `config`. Raises ConfigError with every problem found (bad CORS policies,
    handler imports, patterns, conflicting routes, unreadable error pages). `live` (from
    the reloader) serves the live-reload events and injects the client into HTML."""
    compiler = _Compiler(config, modules or SiteModules(config.server.root), live)
    return compiler.build()


class _Compiler:
    def __init__(
        self, config: GatewayConfig, modules: SiteModules, live: LiveReload | None
    ) -> None:
        self.config = config
        self.modules = modules
        self.live = live
        self.issues: list[ConfigIssue] = []
        self.policies: dict[str, CorsPolicy] = {}
        self.builder: RouterBuilder[Target] = RouterBuilder(
            redirect_slashes=config.server.trailing_slash == "redirect"
        )
        self.rows: list[RouteRow] = []
        self.mounts: list[StaticMount] = []

    def build(self) -> App:
        for name, spec in self.config.cors.items():
            try:
                self.policies[name] = CorsPolicy.from_spec(spec)
            except ConfigError as exc:
                self.issues.extend(exc.issues)
        for route in self.config.routes:
            self._add_route(route)
        for mount in self.config.static:
            self._add_static(mount)
        if self.live is not None:
            self.builder.add(EVENTS_PATH, ("GET",), self.live.target)
        pages = self._error_pages()
        router: Router[Target] | None = None
        try:
            router = self.builder.build()
        except ConfigError as exc:
            self.issues.extend(exc.issues)
        if self.issues or router is None:
            raise ConfigError(sorted(self.issues, key=lambda i: (i.file, i.line or 0)))
        default = self.policies.get(self.config.server.cors or "")
        return App(
            self.config, router, pages, default, self.rows, self.modules, self.mounts, self.live
        )

    def _cors(self, ref: Any) -> tuple[CorsPolicy | None, str | None]:
        if ref is False:
            return None, None
        name = ref if isinstance(ref, str) else self.config.server.cors
        if name is None:
            return None, None
        return self.policies.get(name), name

    def _add_route(self, spec: RouteSpec) -> None:
        cors, cors_name = self._cors(spec.cors)
        common: dict[str, Any] = {"cors": cors, "cors_name": cors_name, "headers": spec.headers}
        target: Target
        if spec.handler is not None:
            func = self.modules.load(spec.handler, spec.where)
            if isinstance(func, ConfigIssue):
                self.issues.append(func)
                return
            label = spec.handler + (" (inline)" if spec.inline else "")
            target = HandlerTarget(label, func=func, inline=spec.inline, **common)
        elif spec.respond is not None:
            r = spec.respond
            label = f"respond {r.status}"
            common["headers"] = r.headers + spec.headers
            target = RespondTarget(
                label, status=r.status, body=r.body, content_type=r.content_type, **common
            )
        else:
            assert spec.redirect is not None
            d = spec.redirect
            label = f"redirect {d.status} {d.to}"
            target = RedirectTarget(
                label, to=d.to, status=d.status, keep_query=d.keep_query, **common
            )
        self._add(spec.path, spec.methods, target, spec.host, spec.where, "path")

    def _add_static(self, spec: StaticSpec) -> None:
        cors, cors_name = self._cors(spec.cors)
        try:
            mount = StaticMount.from_spec(
                spec,
                # development: no heuristic caching, so an edited file is seen on reload
                default_cache_control=(
                    "no-cache" if self.config.dev.reload or self.config.dev.live_reload else None
                ),
            )
            self.mounts.append(mount)
        except ConfigError as exc:
            self.issues.extend(exc.issues)
            return
        target = StaticTarget(f"static {spec.dir}", cors=cors, cors_name=cors_name, mount=mount)
        prefix = spec.prefix.rstrip("/")
        self._add(
            prefix + "/{__rest:path}", ("GET", "HEAD"), target, spec.host, spec.where, "prefix"
        )

    def _add(
        self,
        pattern: str,
        methods: tuple[str, ...],
        target: Target,
        host: str | None,
        where: Any,
        key: str,
    ) -> None:
        literal = pattern.removesuffix("/{__rest:path}")  # a mount's prefix
        if self.config.dev.live_reload and is_reserved(literal):
            self.issues.append(where.issue(reserved_message(literal), key))
            return
        if host is not None:
            try:
                parse_host(host)
            except ValueError as exc:
                self.issues.append(where.issue(str(exc), "host"))
                return
        try:
            self.builder.add(pattern, methods, target, host=host, where=where)
        except ValueError as exc:  # PatternError, or a bad method
            self.issues.append(where.issue(str(exc), key))
            return
        shown = pattern.replace("/{__rest:path}", "/**") if key == "prefix" else pattern
        self.rows.append(
            RouteRow(
                host or "*", ",".join(methods), shown or "/", target.label, target.cors_name or "-"
            )
        )

    def _error_pages(self) -> dict[int, ErrorPage]:
        pages: dict[int, ErrorPage] = {}
        where = self.config.errors_where
        for status, path in self.config.errors.items():
            try:
                body = path.read_bytes()
            except OSError as exc:
                self.issues.append(
                    where.issue(f"cannot read {str(path)!r}: {exc.strerror}", str(status))
                )
                continue
            ctype = mimetypes.guess_type(path.name)[0] or "text/html"
            if ctype.startswith("text/"):
                ctype += "; charset=utf-8"
            pages[status] = ErrorPage(body, ctype)
        return pages
