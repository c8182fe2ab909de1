"""App: a compiled gateway.toml. build_app turns a GatewayConfig into an immutable router
of targets (collecting every compile error at once); App.handle answers one Request with
a Response, or a PoolCall for the handler pool. Every error answer is rendered by
App.render_error; the live-reload filter is applied in App.finish. No sockets here."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.config.routes import conflict_issue
from gateway.config.schema import GatewayConfig, RouteSpec, StaticSpec
from gateway.cors import CorsPolicy
from gateway.errors import ConfigError, ConfigIssue, HTTPError
from gateway.handlers import SiteModules, call_handler, reason
from gateway.livereload import EVENTS_PATH, LiveReload, is_reserved, reserved_message
from gateway.request import Request
from gateway.response import Response, to_header_list
from gateway.router.paths import join_path
from gateway.router.patterns import PatternError, parse_host
from gateway.router.trie import (
    Match,
    MethodNotAllowed,
    NoMatch,
    RouteConflicts,
    Router,
    RouterBuilder,
    TrailingSlashRedirect,
)
from gateway.static.files import StaticMount
from gateway.targets import (
    MISS,
    Deferred,
    HandlerTarget,
    RedirectTarget,
    RespondTarget,
    StaticTarget,
    Target,
)

log = logging.getLogger("gateway.app")


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

    def handle(self, request: Request) -> Response | PoolCall:
        """The answer to `request`: never raises."""
        try:
            match = self.router.match(request.host, request.method, request.segments)
        except NoMatch as miss:
            return self._no_route(request, miss)
        target = match.target
        request.params = match.params
        if request.method == "OPTIONS" and target.cors is not None:
            preflight = target.cors.preflight(request.method, request.headers)
            if preflight is not None:
                return preflight
        try:
            result = target.serve(request, match)
        except HTTPError as exc:  # a handler's or a mount's: its own text, never a page
            return self.render_error(
                exc.status, request, target, exc.detail, exc.headers, page=False
            )
        if type(result) is Deferred:
            return PoolCall(self, result)
        if result is MISS:
            return self._static_miss(request, target)
        response = target.finish(request, result)  # type: ignore[arg-type]
        live = self.live  # the one response filter, as in finish() (inlined: hot path)
        return response if live is None else live.inject(request, response)

    def finish(self, request: Request, target: Target, response: Response) -> Response:
        """A target's answer as it goes out: the route's headers and CORS, then the one
        response filter (live reload puts its client into HTML pages)."""
        response = target.finish(request, response)
        live = self.live
        return response if live is None else live.inject(request, response)

    def render_error(
        self,
        status: int,
        request: Request | None,
        target: Target | None = None,
        detail: str = "",
        headers: Iterable[tuple[str, str]] | None = None,
        *,
        page: bool = True,
    ) -> Response:
        """Every error answer gateway sends: the [errors] page for `status` when one is set
        (and `page`: an error a handler raised keeps its own text), else `detail` or the
        reason phrase: as JSON ({"status", "error"}) when the client asks for JSON rather
        than HTML and `headers` give no content type of their own, else as text. `headers`
        replace defaults of the same name; the route's headers and CORS headers are added
        so a web app can read its errors. The writer leaves the body out for HEAD."""
        headers = to_header_list(headers)
        error_page = self.error_pages.get(status) if page else None
        if error_page is not None:
            response = Response(status, error_page.body, content_type=error_page.content_type)
        elif (
            request is not None
            and _wants_json(request.headers.get("accept"))
            and not any(name.lower() == "content-type" for name, _ in headers)
        ):
            response = Response.json({"status": status, "error": detail or reason(status)}, status)
        else:
            text = detail or reason(status)
            response = Response(status, text + "\n", content_type="text/plain; charset=utf-8")
        if headers:
            response.set_headers(headers)
        if request is not None and target is not None:
            target.finish(request, response)
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
            except NoMatch:
                target = self._fallback_target
        return self.render_error(exc.status, request, target, exc.detail, exc.headers)

    def close(self) -> None:
        """Release cached files once this app is no longer the one serving."""
        for mount in self.mounts:
            mount.close()

    # -- misses ---------------------------------------------------------------------------

    def _no_route(self, request: Request, miss: NoMatch) -> Response:
        if isinstance(miss, MethodNotAllowed):
            return self._method_not_allowed(request, miss.allow, miss.target)
        if isinstance(miss, TrailingSlashRedirect):
            location = join_path(miss.segments)
            if request.query_string:
                location += "?" + request.query_string
            return self._fallback_target.finish(
                request, Response(308, b"", [("location", location)])
            )
        if request.path == "*" and request.method == "OPTIONS":
            return Response(204, b"", [("allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS")])
        return self.render_error(404, request, self._fallback_target)

    def _static_miss(self, request: Request, mount: Target) -> Response:
        """A static mount had no file. A mount is a catch-all, so it may have shadowed a
        route that exists for another method (405) or with the other trailing slash (308)."""
        host = request.host
        try:
            self.router.match(host, "\0", request.segments)  # a method no route has
        except MethodNotAllowed as exc:
            if exc.target is not mount:
                return self.render_error(405, request, exc.target, "", [("allow", exc.allow)])
        except NoMatch:
            pass
        segments = request.segments
        other = segments[:-1] if segments and segments[-1] == "" else (*segments, "")
        if self.config.server.trailing_slash == "redirect" and other:
            try:
                match = self.router.match(host, request.method, other)
            except NoMatch:
                match = None
            if match is not None and match.target is not mount and _answers(match, request):
                location = join_path(other) + (
                    f"?{request.query_string}" if request.query_string else ""
                )
                return mount.finish(request, Response(308, b"", [("location", location)]))
        return self.render_error(404, request, mount)

    def _method_not_allowed(self, request: Request, allow: str, target: Target) -> Response:
        if request.method == "OPTIONS":
            if target.cors is not None:
                preflight = target.cors.preflight(request.method, request.headers)
                if preflight is not None:
                    return preflight
            return target.finish(request, Response(204, b"", [("allow", allow)]))
        return self.render_error(405, request, target, "", [("allow", allow)])


def _answers(match: Match[Target], request: Request) -> bool:
    """Whether the route the other slash form matches would really answer it: a static
    mount is asked (it may miss, or redirect back), so no two redirects point at each
    other; any other target answers."""
    target = match.target
    if isinstance(target, StaticTarget) and target.mount is not None:
        return target.mount.answers(request, match.rest)
    return True


def _wants_json(accept: str | None) -> bool:
    """An Accept header that names JSON and not HTML (fetch/axios/API clients; a browser
    navigating asks for text/html first, and */* alone keeps plain text)."""
    if not accept or "json" not in accept:
        return False
    accept = accept.lower()
    return ("application/json" in accept or "+json" in accept) and "text/html" not in accept


class PoolCall:
    """A handler call for the pool, as the server sees it: run() on a pool thread gives
    the finished Response whatever the handler did; the other methods give the answer
    when it cannot run (busy), gives nothing back, or takes too long."""

    __slots__ = ("app", "call")

    def __init__(self, app: App, call: Deferred) -> None:
        self.app = app
        self.call = call

    def run(self) -> Response:
        call = self.call
        request = call.request
        target = call.target
        try:
            response = call_handler(target.func, request)  # Deferred.run, inlined
        except HTTPError as exc:
            return self.app.render_error(
                exc.status, request, target, exc.detail, exc.headers, page=False
            )
        response = target.finish(request, response)
        live = self.app.live  # App.finish, inlined: this runs once per pooled request
        return response if live is None else live.inject(request, response)

    def busy_response(self) -> Response:
        return self._error(503, "server busy: try again shortly", [("retry-after", "1")])

    def timeout_response(self) -> Response:
        return self._error(504, f"handler timed out (request id {self.call.request.id})")

    def error_response(self) -> Response:
        return self._error(500, f"internal server error (request id {self.call.request.id})")

    def _error(
        self, status: int, detail: str, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        return self.app.render_error(status, self.call.request, self.call.target, detail, headers)


def build_app(
    config: GatewayConfig, modules: SiteModules | None = None, live: LiveReload | None = None
) -> App:
    """Compile `config`. Raises ConfigError with every problem found (bad CORS policies,
    handler imports, patterns, conflicting routes, unreadable error pages). `live` (from
    the reloader) serves the live-reload events and injects the client into HTML."""
    compiler = _Compiler(config, modules or SiteModules(config.server.root), live)
    return compiler.build()


def all_issues(exc: ConfigError, modules: SiteModules | None = None) -> list[ConfigIssue]:
    """Every mistake to report for a config that did not load: the load errors, plus what
    compiling the part that did load finds, so one run (`gateway check`, or a reload after
    a save) shows them all. `modules`: the SiteModules to import handlers with."""
    issues = list(exc.issues)
    partial = getattr(exc, "partial", None)
    if partial is not None:
        try:
            build_app(partial, modules).close()
        except ConfigError as more:
            issues += [issue for issue in more.issues if issue not in issues]
    return issues


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
        except RouteConflicts as exc:
            self.issues.extend(conflict_issue(c) for c in exc.conflicts)
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
        except (PatternError, ValueError) as exc:  # a bad pattern, or a bad method
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
